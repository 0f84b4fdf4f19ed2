"""The ISSO's account services, built once per app and found on
``app.state.isso`` by create_app and reached through
:data:`services.hrss_isso.deps.IssoDep` (no module globals, STYLE habit 5)."""

from __future__ import annotations

from dataclasses import dataclass

from services.hrss_isso.accounts.bindings import Bindings
from services.hrss_isso.accounts.persons import PersonalAccounts, person_credentials
from services.hrss_isso.accounts.registry import CsvPopulationRegistry, PopulationRegistry
from services.hrss_isso.accounts.units import UnitRegistration, unit_credentials
from services.hrss_isso.authorisation_codes.applications import Authorizations
from services.hrss_isso.models import Person, Staff, Unit, sms_tables
from services.hrss_isso.settings import IssoSettings
from services.hrss_isso.staff.accounts import staff_credentials
from shared.password_login import PasswordLogin
from shared.passwords import PasswordService
from shared.ratelimit import Limiter
from shared.sms import HttpSmsGateway, OutboxGateway, SmsCodes, SmsGateway
from shared.staff_totp import StaffTotpLogin, TotpSecretCipher
from shared.web.app import Runtime

__all__ = ["IssoServices"]


@dataclass
class IssoServices:
    settings: IssoSettings
    passwords: PasswordService
    gateway: SmsGateway
    outbox: OutboxGateway | None
    sms: SmsCodes
    registry: PopulationRegistry
    persons: PersonalAccounts
    units: UnitRegistration
    bindings: Bindings
    authorizations: Authorizations
    person_login: PasswordLogin
    unit_login: PasswordLogin
    staff_login: StaffTotpLogin

    @classmethod
    def build(
        cls, settings: IssoSettings, runtime: Runtime, *, passwords: PasswordService, registry: PopulationRegistry | None = None
    ) -> IssoServices:
        db, kv, clock, tokens = runtime.db, runtime.kv, runtime.clock, runtime.tokens
        outbox = OutboxGateway(sms_tables, clock)
        gateway: SmsGateway = outbox
        if settings.sms_gateway_url:
            token = settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else ""
            gateway = HttpSmsGateway(settings.sms_gateway_url, token)
        sms = SmsCodes(tables=sms_tables, gateway=gateway, kv=kv, clock=clock, tokens=tokens, sign=settings.sms_sign)
        registry = registry or CsvPopulationRegistry(settings.population_registry_csv)
        window = settings.login_lock_seconds
        checks = Limiter(kv, "isso-checks", settings.check_max_failures, window)

        def login(kind: str, find, model) -> PasswordLogin:
            return PasswordLogin(
                lookup=find,
                passwords=passwords,
                per_account=Limiter(kv, f"isso-login-{kind}", settings.login_max_failures, window),
                per_address=Limiter(kv, "isso-login-address", settings.login_max_per_address, window),
                model=model,
            )

        run = settings.password_max_keyboard_run
        return cls(
            settings=settings,
            passwords=passwords,
            gateway=gateway,
            outbox=outbox if settings.is_development else None,
            sms=sms,
            registry=registry,
            persons=PersonalAccounts(
                db=db, clock=clock, passwords=passwords, sms=sms, registry=registry, check_limiter=checks, max_keyboard_run=run
            ),
            units=UnitRegistration(
                db=db, clock=clock, tokens=tokens, passwords=passwords, sms=sms, check_limiter=checks, max_keyboard_run=run
            ),
            bindings=Bindings(db=db, clock=clock),
            authorizations=Authorizations(
                db=db,
                clock=clock,
                tokens=tokens,
                secret=settings.secret_key.get_secret_value(),
                gateway=gateway,
                code_limiter=Limiter(kv, "isso-authcode", settings.check_max_failures, window),
                code_ttl_days=settings.authorization_code_ttl_days,
                max_bytes=settings.upload_max_bytes,
                sms_sign=settings.sms_sign,
            ),
            person_login=login("person", person_credentials, Person),
            unit_login=login("unit", unit_credentials, Unit),
            # The console approves what raises units to L2: password + TOTP.
            staff_login=StaffTotpLogin(
                login=login("staff", staff_credentials, Staff),
                cipher=TotpSecretCipher(settings.staff_totp_key_values),
                kv=kv,
                clock=clock,
                skew=settings.staff_totp_skew,
            ),
        )
