"""The admin API's services: who is calling (Cognito), what they may do, and the operations behind /api."""
