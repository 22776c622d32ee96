"""Sign-in for the admin API: a Cognito user pool, its ``admins`` and ``finance`` groups, and one public app client
for the dashboard and the CLI.

The same pool as a local run makes on moto (``overspill.local.cognito``), whose names and policy are imported from
there so the two cannot drift apart: admins create accounts (no self sign-up), usernames are case-insensitive,
passwords are long and mixed, and the client has no secret (a browser app and a CLI cannot keep one).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import DeployConfig
from overspill.local.cognito import APP_CLIENT_NAME, GROUPS, PASSWORD_MIN_LENGTH

TEMPORARY_PASSWORD_DAYS = 7
# The access token's lifetime is how long a sign-out or a group change takes to bite (overspill.admin.identity).
ACCESS_TOKEN_VALIDITY = Duration.minutes(60)
ID_TOKEN_VALIDITY = Duration.minutes(60)
REFRESH_TOKEN_VALIDITY = Duration.days(30)


class Auth(Construct):
    """``user_pool``, ``groups`` (by name) and ``client``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig) -> None:
        super().__init__(scope, construct_id)
        production = config.is_production

        self.user_pool = cognito.UserPool(
            self, "UserPool",
            user_pool_name=f"overspill-{config.stage}",
            # Admins create accounts; nobody signs themselves up.
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True),
            sign_in_case_sensitive=False,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=False, mutable=True)),
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH, require_lowercase=True, require_uppercase=True,
                require_digits=True, require_symbols=True,
                temp_password_validity=Duration.days(TEMPORARY_PASSWORD_DAYS)),
            # Each admin may add an authenticator app; SMS would need an SNS origination setup per account.
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # Essentials, what new pools get: threat protection (Plus) is not worth its price for a few operators.
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            deletion_protection=production,
            # The admins' and finance's accounts: kept in production, like the data.
            removal_policy=RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY,
        )

        self.groups = {
            name: cognito.CfnUserPoolGroup(self, f"{name.capitalize()}Group", user_pool_id=self.user_pool.user_pool_id,
                                           group_name=name, description=description)
            for name, description in GROUPS.items()
        }

        self.client = self.user_pool.add_client(
            "AppClient",
            user_pool_client_name=APP_CLIENT_NAME,
            generate_secret=False,
            # Password sign-in for the CLI, SRP for the dashboard; refresh tokens for both (CDK adds that flow).
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            # No hosted UI: both sign in through the Cognito API, so no OAuth flows or callback URLs.
            disable_o_auth=True,
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=ACCESS_TOKEN_VALIDITY,
            id_token_validity=ID_TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
        )
