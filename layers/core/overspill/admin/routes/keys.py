"""Routes: keys (being written)."""

from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter

router = LambdaFunctionUrlRouter()
