"""Everything the admin API works with, built once per instance from the settings (lazily: an instance that
only ever answers /api/health builds none of it)."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from overspill.admin.identity import TokenVerifier
from overspill.config import Settings, SettingsError, env_name
from overspill.store.models import bind_models

if TYPE_CHECKING:
    from overspill.admin.audit import AuditLog
    from overspill.admin.breakers import BreakerAdmin
    from overspill.admin.credentials import CredentialAdmin
    from overspill.admin.exports import ExportAdmin
    from overspill.admin.idempotency import Idempotency
    from overspill.admin.keys import KeyAdmin
    from overspill.admin.pricing import PricingAdmin
    from overspill.admin.teams import TeamAdmin
    from overspill.admin.usage import UsageQueries
    from overspill.admin.users import UserAdmin


class AdminServices:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        bind_models(settings)

    @cached_property
    def verifier(self) -> TokenVerifier:
        s = self.settings
        if not s.cognito_user_pool_id or not s.cognito_client_ids.strip():
            raise SettingsError(f"the admin API needs {env_name('cognito_user_pool_id')} and "
                                f"{env_name('cognito_client_ids')}")
        return TokenVerifier(s.region, s.cognito_user_pool_id, s.cognito_client_ids, jwks_url=s.cognito_jwks_url)

    @cached_property
    def audit(self) -> AuditLog:
        from overspill.admin.audit import AuditLog
        from overspill.store.audit import AuditRepository

        return AuditLog(AuditRepository())

    @cached_property
    def idempotency(self) -> Idempotency:
        from overspill.admin.idempotency import Idempotency

        return Idempotency(self.settings)

    @cached_property
    def users(self) -> UserAdmin:
        from overspill.admin.users import UserAdmin

        return UserAdmin(self.audit, self.keys)

    @cached_property
    def teams(self) -> TeamAdmin:
        from overspill.admin.teams import TeamAdmin

        return TeamAdmin(self.audit)

    @cached_property
    def keys(self) -> KeyAdmin:
        from overspill.admin.keys import KeyAdmin
        from overspill.aws import client
        from overspill.pepper import PepperProvider

        pepper = PepperProvider(client("secretsmanager", self.settings), self.settings.pepper_secret_id)
        return KeyAdmin(self.audit, pepper, proxy_url=self.settings.proxy_public_url,
                        rotation_grace=timedelta(seconds=self.settings.key_rotation_grace_s))

    @cached_property
    def credentials(self) -> CredentialAdmin:
        from overspill.admin.credentials import CredentialAdmin

        return CredentialAdmin(self.settings, self.audit)

    @cached_property
    def breakers(self) -> BreakerAdmin:
        from overspill.admin.breakers import BreakerAdmin

        return BreakerAdmin(self.audit)

    @cached_property
    def usage(self) -> UsageQueries:
        from overspill.admin.usage import UsageQueries

        return UsageQueries(self.settings)

    @cached_property
    def pricing(self) -> PricingAdmin:
        from overspill.admin.pricing import PricingAdmin

        return PricingAdmin(self.settings, self.audit)

    @cached_property
    def exports(self) -> ExportAdmin:
        from overspill.admin.exports import ExportAdmin

        return ExportAdmin(self.settings, self.audit)
