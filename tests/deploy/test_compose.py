"""Structural checks of deploy/: the development machine has no Docker engine.

The compose file is parsed with PyYAML and checked against the code it
configures: every ``PREFIX_*`` variable must be a field of that service's
settings class, required fields must be set, the settings must load with the
compose values (placeholders replaced by dummies), and the registered clients
must match the public URLs and callback paths of the services that use them.
The cluster layout is checked too: replicas behind the nginx load balancer
(deploy/nginx.conf), the services trusting only that proxy, a worker per
provider, readiness healthchecks.

Each check returns a list of problems; the tests at the bottom feed broken
copies of the files to the checks to show that they do catch mistakes.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_origin
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from services.gdzwfw_idp.settings import IdpSettings
from services.hrss_isso.settings import IssoSettings
from services.refund_portal.settings import RefundSettings
from shared.settings import ClientConfig, ServiceSettings, parse_clients

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
NGINX_CONF = DEPLOY / "nginx.conf"

# service name -> (settings class, port)
APPS: dict[str, tuple[type[ServiceSettings], int]] = {
    "gdzwfw_idp": (IdpSettings, 8001),
    "hrss_isso": (IssoSettings, 8002),
    "refund_portal": (RefundSettings, 8003),
}
PROVIDERS = ("gdzwfw_idp", "hrss_isso")
LB = "lb"
NETWORK = "cluster"
REQUIRED_SERVICES = ("postgres", "redis", LB, *APPS, *(f"{p}_worker" for p in PROVIDERS))
# Read by the Dockerfile's CMD or by OpenTelemetry's exporter, not by the settings classes.
RUNTIME_VARS = {"SERVICE", "PORT", "WORKERS", "OTEL_EXPORTER_OTLP_ENDPOINT"}
MIN_REPLICAS = 2

ISSO_CALLBACK_PATH = "/isso/federation/gdzwfw/callback"
PORTAL_CALLBACK_PATH = "/auth/callback"

Compose = dict[str, Any]


# --------------------------------------------------------------------------
# Compose interpolation (the subset compose implements for ${...} and $VAR)

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[?\-+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def references(value: str) -> list[tuple[str, str | None]]:
    """(variable, operator) for every interpolation in ``value``."""
    return [(m["name"] or m["bare"], m["op"]) for m in _INTERPOLATION.finditer(value) if not m["escaped"]]


def interpolate(value: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["name"] or m["bare"]
        op, arg = m["op"], m["arg"] or ""
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if op in (":+", "+"):
            return arg if present else ""
        if present:
            return env[name]
        if op in (":-", "-"):
            return arg
        raise KeyError(f"${{{name}}} is not set and has no default")

    return _INTERPOLATION.sub(sub, value)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def dummy_env(compose: Compose) -> dict[str, str]:
    """A URL- and JSON-safe value of 32+ characters for every variable used."""
    names = {name for s in _strings(compose) for name, _ in references(s)}
    return {n: f"dummy-{n.lower().replace('_', '-')}-0123456789abcdef0123456789abcdef" for n in names}


def render(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {k: render(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [render(v, env) for v in node]
    return node


# --------------------------------------------------------------------------
# Reading the files


def load_compose() -> Compose:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE.relative_to(ROOT)} is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), f"{COMPOSE_FILE.relative_to(ROOT)} has no 'services' mapping"
    return data


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (compose allows a list of K=V too)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items()}


def networks(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Network -> its settings (aliases, ipv4_address), from the list or mapping syntax."""
    nets = service.get("networks") or {}
    if isinstance(nets, list):
        return {str(n): {} for n in nets}
    return {str(k): v or {} for k, v in nets.items()}


def lb_address(compose: Compose) -> ipaddress.IPv4Address | None:
    address = networks(compose["services"].get(LB, {})).get(NETWORK, {}).get("ipv4_address")
    return ipaddress.ip_address(address) if address else None


def published(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs, from short or long port syntax."""
    pairs: set[tuple[int, int]] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        if len(parts) >= 2 and parts[-2].isdigit() and parts[-1].isdigit():
            pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def env_names(cls: type[ServiceSettings]) -> dict[str, str]:
    """Environment variable -> field name for a settings class."""
    prefix = cls.model_config.get("env_prefix", "")
    return {prefix + name.upper(): name for name in cls.model_fields}


@contextmanager
def settings_environ(cls: type[ServiceSettings], env: dict[str, str]) -> Iterator[None]:
    """os.environ with exactly ``env`` for the class's prefix, restored after."""
    prefix = cls.model_config.get("env_prefix", "")
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.upper().startswith(prefix)]:
            del os.environ[key]
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_settings(compose: Compose, app: str) -> ServiceSettings:
    cls, _ = APPS[app]
    env = environment(render(compose, dummy_env(compose))["services"][app])
    with settings_environ(cls, {k: v for k, v in env.items() if k not in RUNTIME_VARS}):
        return cls()


def _public_url(compose: Compose, app: str) -> str:
    cls, _ = APPS[app]
    prefix = cls.model_config["env_prefix"]
    return environment(compose["services"][app]).get(prefix + "PUBLIC_URL", "").rstrip("/")


# --------------------------------------------------------------------------
# Checks: each returns what is wrong, empty when all is well


def check_services(compose: Compose) -> list[str]:
    services = compose["services"]
    problems = [f"service {name!r} is missing from the compose file" for name in REQUIRED_SERVICES if name not in services]
    if "postgres" in services and not str(services["postgres"].get("image", "")).startswith("postgres:16"):
        problems.append(f"postgres should run image postgres:16, not {services['postgres'].get('image')!r}")
    if "redis" in services and not str(services["redis"].get("image", "")).startswith("redis:7"):
        problems.append(f"redis should run image redis:7, not {services['redis'].get('image')!r}")
    return problems


def check_build_and_ports(compose: Compose) -> list[str]:
    problems = []
    services = compose["services"]
    for app, (cls, port) in APPS.items():
        svc = services.get(app, {})
        build = svc.get("build")
        if not isinstance(build, dict):
            problems.append(f"{app}: 'build' should be a mapping with context and dockerfile, got {build!r}")
        else:
            dockerfile = (DEPLOY / str(build.get("context", ".")) / str(build.get("dockerfile", "Dockerfile"))).resolve()
            if dockerfile != DOCKERFILE.resolve():
                problems.append(f"{app}: builds from {dockerfile}, not from deploy/Dockerfile")
            if (DEPLOY / str(build.get("context", "."))).resolve() != ROOT:
                problems.append(f"{app}: build context must be the repository root ('..'), got {build.get('context')!r}")
        env = environment(svc)
        if env.get("SERVICE") != app:
            problems.append(f"{app}: SERVICE should be {app!r} (the Dockerfile runs services.$SERVICE.manage), got {env.get('SERVICE')!r}")
        if not (ROOT / "services" / app / "manage.py").is_file():
            problems.append(f"{app}: services/{app}/manage.py does not exist")
        if env.get("PORT") != str(port):
            problems.append(f"{app}: PORT should be {port}, got {env.get('PORT')!r}")
        if (port, port) not in published(services.get(LB, {})):
            problems.append(
                f"{app}: port {port} is not published as {port}:{port} on the load balancer; ports: {services.get(LB, {}).get('ports')}"
            )
        if svc.get("ports"):
            problems.append(f"{app}: publishes {svc['ports']}; replicas cannot share a host port, the load balancer publishes it")
        public = urlsplit(_public_url(compose, app))
        # Browsers resolve every *.localhost name to the loopback address, where lb publishes the port.
        if public.port != port or not (public.hostname or "").endswith(".localhost"):
            problems.append(f"{app}: public URL {public.geturl()!r} should be http://<name>.localhost:{port} (the published port)")
    return problems


def check_dependencies_and_health(compose: Compose) -> list[str]:
    problems = []
    services = compose["services"]
    for app, (_, port) in APPS.items():
        svc = services.get(app, {})
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{app}: depends_on is a plain list; use conditions (service_healthy)")
            deps = {d: {} for d in deps}
        for dep in ("postgres", "redis"):
            if dep not in deps:
                problems.append(f"{app}: does not depend on {dep}")
            elif (deps[dep] or {}).get("condition") != "service_healthy":
                problems.append(f"{app}: depends on {dep} without condition service_healthy")
        for dep, spec in deps.items():
            if (spec or {}).get("condition") == "service_healthy" and not (services.get(dep) or {}).get("healthcheck"):
                problems.append(f"{app}: waits for {dep} to be healthy, but {dep} has no healthcheck")
        test = (svc.get("healthcheck") or {}).get("test")
        text = " ".join(test) if isinstance(test, list) else str(test or "")
        # Readiness, not liveness: the balancer's dependants wait for a replica that reaches its database.
        if "/readyz" not in text or str(port) not in text:
            problems.append(f"{app}: healthcheck should request /readyz on port {port}, got {test!r}")
    return problems


def check_environment_fields(compose: Compose) -> list[str]:
    problems = []
    for app, (cls, _) in APPS.items():
        known = env_names(cls)
        env = environment(compose["services"].get(app, {}))
        for key in sorted(env):
            if key not in known and key not in RUNTIME_VARS:
                problems.append(
                    f"{app}: {key} is not a setting of {cls.__name__} (expected one of {sorted(known)} or {sorted(RUNTIME_VARS)})"
                )
        for var, field in known.items():
            if cls.model_fields[field].is_required() and var not in env:
                problems.append(f"{app}: required setting {var} ({cls.__name__}.{field}, no default) is not set")
        prefix = cls.model_config["env_prefix"]
        if env.get(prefix + "ENVIRONMENT") != "production":
            problems.append(f"{app}: {prefix}ENVIRONMENT should be 'production', got {env.get(prefix + 'ENVIRONMENT')!r}")
        if env.get(prefix + "COOKIE_SECURE", "").lower() != "true":
            problems.append(f"{app}: {prefix}COOKIE_SECURE must be 'true' (production refuses insecure cookies)")
    return problems


def check_settings_load(compose: Compose) -> list[str]:
    problems = []
    for app, (cls, _) in APPS.items():
        try:
            load_settings(compose, app)
        except (ValidationError, ValueError, KeyError) as exc:
            problems.append(f"{app}: {cls.__name__} does not load from the compose environment: {exc}")
    return problems


def _required_reference(value: str) -> str | None:
    """The variable name when ``value`` is exactly one ${VAR:?...} / ${VAR?...}."""
    m = _INTERPOLATION.fullmatch(value.strip())
    return m["name"] if m and m["name"] and m["op"] in (":?", "?") else None


def _clients_raw(compose: Compose, app: str) -> list[dict[str, Any]]:
    prefix = APPS[app][0].model_config["env_prefix"]
    raw = environment(compose["services"][app]).get(prefix + "CLIENTS", "")
    return json.loads(raw) if raw else []


def check_secrets(compose: Compose) -> list[str]:
    """Secrets come from the operator's environment, never from the file."""
    problems = []
    services = compose["services"]
    for app, (cls, _) in APPS.items():
        known = env_names(cls)
        env = environment(services.get(app, {}))
        for var, field in known.items():
            annotation = cls.model_fields[field].annotation
            if var not in env or not (annotation is SecretStr or "SecretStr" in str(annotation)):
                continue
            if get_origin(annotation) is dict:
                # id -> secret (REFUND_AUDIT_KEYS): the ids may stand in the file, each secret comes from the environment.
                try:
                    secrets = json.loads(env[var])
                except json.JSONDecodeError:
                    secrets = None
                if not isinstance(secrets, dict) or not secrets:
                    problems.append(f"{app}: {var} should be a JSON object of id -> ${{VAR:?...}}, got {env[var]!r}")
                    continue
                for key, secret in secrets.items():
                    if not _required_reference(str(secret)):
                        problems.append(
                            f"{app}: {var} key {key!r} must be a required interpolation like ${{VAR:?...}}, not a value in the file"
                        )
            elif not _required_reference(env[var]):
                problems.append(f"{app}: {var} must be a required interpolation like ${{{var}:?...}}, not a value in the file")
        try:
            clients = _clients_raw(compose, app) if known.get(cls.model_config["env_prefix"] + "CLIENTS") else []
        except json.JSONDecodeError:
            clients = []  # reported by check_clients
        for client in clients:
            secret = client.get("client_secret")
            if secret is not None and not _required_reference(str(secret)):
                problems.append(f"{app}: client {client.get('client_id')!r} has a literal client_secret; use ${{VAR:?...}}")
    password = environment(services.get("postgres", {})).get("POSTGRES_PASSWORD", "")
    if not _required_reference(password):
        problems.append("postgres: POSTGRES_PASSWORD must be a required interpolation like ${POSTGRES_PASSWORD:?...}")
    # Both ends of each client registration must read the same variable.
    for provider, client_id_var, secret_var, app in (
        ("gdzwfw_idp", "ISSO_GDZWFW_CLIENT_ID", "ISSO_GDZWFW_CLIENT_SECRET", "hrss_isso"),
        ("hrss_isso", "REFUND_ISSO_CLIENT_ID", "REFUND_ISSO_CLIENT_SECRET", "refund_portal"),
    ):
        try:
            registered = {c.get("client_id"): c for c in _clients_raw(compose, provider)}
        except json.JSONDecodeError:
            continue
        cls = APPS[app][0]
        env = environment(services.get(app, {}))
        field = env_names(cls)[client_id_var]
        client_id = env.get(client_id_var, cls.model_fields[field].default)
        client = registered.get(client_id)
        if client is None:
            continue  # reported by check_clients
        theirs = _required_reference(str(client.get("client_secret", "")))
        ours = _required_reference(env.get(secret_var, ""))
        if theirs != ours:
            problems.append(
                f"{app}: {secret_var} reads ${{{ours}}} but {provider} registers {client_id!r} with ${{{theirs}}}; "
                "they must be the same variable"
            )
    return problems


def _find_client(clients: list[ClientConfig], client_id: str) -> ClientConfig | None:
    return next((c for c in clients if c.client_id == client_id), None)


def check_clients(compose: Compose) -> list[str]:
    problems = []
    rendered = render(compose, dummy_env(compose))
    parsed: dict[str, list[ClientConfig]] = {}
    for provider in ("gdzwfw_idp", "hrss_isso"):
        prefix = APPS[provider][0].model_config["env_prefix"]
        raw = environment(rendered["services"][provider]).get(prefix + "CLIENTS")
        if not raw:
            problems.append(f"{provider}: {prefix}CLIENTS is not set; its relying party cannot log in")
            parsed[provider] = []
            continue
        try:
            parsed[provider] = parse_clients(raw)
        except (json.JSONDecodeError, ValidationError) as exc:
            problems.append(f"{provider}: {prefix}CLIENTS is not a JSON list of ClientConfig: {exc}")
            parsed[provider] = []

    for provider, app, id_var, callback, extra in (
        ("gdzwfw_idp", "hrss_isso", "ISSO_GDZWFW_CLIENT_ID", ISSO_CALLBACK_PATH, {}),
        ("hrss_isso", "refund_portal", "REFUND_ISSO_CLIENT_ID", PORTAL_CALLBACK_PATH, {"introspection_allowed": True}),
    ):
        cls = APPS[app][0]
        env = environment(rendered["services"][app])
        client_id = env.get(id_var, cls.model_fields[env_names(cls)[id_var]].default)
        client = _find_client(parsed[provider], client_id)
        if client is None:
            problems.append(f"{provider}: client {client_id!r} ({app}) is not registered in its CLIENTS")
            continue
        public = _public_url(compose, app)
        expected = public + callback
        if client.redirect_uris != [expected]:
            problems.append(
                f"{provider}: client {client_id!r} has redirect_uris {client.redirect_uris}, "
                f"expected [{expected!r}] ({app}'s public URL + {callback})"
            )
        for uri in client.post_logout_redirect_uris:
            if not (uri == public + "/" or uri.startswith(public + "/")):
                problems.append(f"{provider}: client {client_id!r} post-logout URI {uri!r} is not under {app}'s public URL {public!r}")
        if not client.post_logout_redirect_uris:
            problems.append(f"{provider}: client {client_id!r} has no post_logout_redirect_uris")
        if client.client_secret is None:
            problems.append(f"{provider}: client {client_id!r} has no client_secret (it is a confidential client)")
        for key, value in extra.items():
            if getattr(client, key) != value:
                problems.append(f"{provider}: client {client_id!r} should have {key}={value!r}, has {getattr(client, key)!r}")
    return problems


def check_issuers(compose: Compose) -> list[str]:
    """Issuers match the providers, and the back channel reaches them."""
    problems = []
    services = compose["services"]
    idp_public = _public_url(compose, "gdzwfw_idp")
    isso_public = _public_url(compose, "hrss_isso")
    isso_env = environment(services["hrss_isso"])
    refund_env = environment(services["refund_portal"])
    isso_issuer = IssoSettings.model_construct(public_url=isso_public).issuer
    verification = IssoSettings.model_construct(gdzwfw_issuer=idp_public).gdzwfw_verification_url

    for app, var, actual, expected, provider in (
        ("hrss_isso", "ISSO_GDZWFW_ISSUER", isso_env.get("ISSO_GDZWFW_ISSUER"), idp_public, "gdzwfw_idp"),
        ("refund_portal", "REFUND_ISSO_ISSUER", refund_env.get("REFUND_ISSO_ISSUER"), isso_issuer, "hrss_isso"),
    ):
        if (actual or "").rstrip("/") != expected:
            problems.append(f"{app}: {var} is {actual!r}, but {provider}'s issuer is {expected!r}")
            continue
        # Discovery, token, JWKS and introspection are fetched from the issuer
        # URL from inside the caller's container.
        host = urlsplit(expected).hostname
        aliases = networks(services.get(LB, {})).get(NETWORK, {}).get("aliases") or []
        if host not in aliases or NETWORK not in networks(services[app]):
            problems.append(
                f"{app}: calls {expected} on the back channel, but inside its container {host} is not the load balancer; "
                f"{host} must be an alias of {LB} on the {NETWORK!r} network, which {app} joins"
            )
    if refund_env.get("REFUND_GDZWFW_VERIFICATION_URL") != verification:
        problems.append(
            f"refund_portal: REFUND_GDZWFW_VERIFICATION_URL is {refund_env.get('REFUND_GDZWFW_VERIFICATION_URL')!r}, "
            f"expected {verification!r}"
        )
    return problems


def _created_databases(compose: Compose) -> set[str]:
    pg = compose["services"].get("postgres", {})
    names = {environment(pg).get("POSTGRES_DB") or environment(pg).get("POSTGRES_USER", "postgres")}
    for volume in pg.get("volumes") or []:
        source, _, target = str(volume).partition(":")
        if target.split(":")[0] == "/docker-entrypoint-initdb.d":
            folder = (DEPLOY / source).resolve()
            for sql in sorted(folder.glob("*.sql")):
                names |= {m.lower() for m in re.findall(r"CREATE\s+DATABASE\s+\"?(\w+)\"?", sql.read_text(), re.I)}
    return names


def check_datastores(compose: Compose) -> list[str]:
    problems = []
    services = compose["services"]
    pg_env = environment(services.get("postgres", {}))
    pg_user = pg_env.get("POSTGRES_USER", "postgres")
    pg_password_var = _required_reference(pg_env.get("POSTGRES_PASSWORD", ""))
    databases = _created_databases(compose)
    used_dbs: dict[str, str] = {}
    used_redis: dict[str, str] = {}
    dummies = dummy_env(compose)
    for app, (cls, _) in APPS.items():
        prefix = cls.model_config["env_prefix"]
        env = environment(services.get(app, {}))
        url = env.get(prefix + "DATABASE_URL", "")
        refs = references(url)
        parts = urlsplit(interpolate(url, dummies))
        db = parts.path.lstrip("/")
        if parts.scheme != "postgresql+psycopg" or parts.hostname != "postgres":
            problems.append(f"{app}: {prefix}DATABASE_URL should be postgresql+psycopg://...@postgres/..., got {url!r}")
        if parts.username != pg_user:
            problems.append(f"{app}: {prefix}DATABASE_URL connects as {parts.username!r}, but postgres creates user {pg_user!r}")
        if [name for name, _ in refs] != [pg_password_var] or parts.password != dummies.get(pg_password_var or ""):
            problems.append(f"{app}: {prefix}DATABASE_URL's password should be ${{{pg_password_var}}}, got {url!r}")
        if db not in databases:
            problems.append(f"{app}: database {db!r} is never created (postgres creates {sorted(databases)}; see deploy/initdb/)")
        if db in used_dbs:
            problems.append(f"{app}: shares database {db!r} with {used_dbs[db]}")
        used_dbs[db] = app
        redis_url = urlsplit(interpolate(env.get(prefix + "REDIS_URL", ""), dummies))
        if redis_url.scheme != "redis" or redis_url.hostname != "redis":
            problems.append(f"{app}: {prefix}REDIS_URL should be redis://redis:6379/<n>, got {redis_url.geturl()!r}")
        index = redis_url.path.lstrip("/") or "0"
        if index in used_redis:
            problems.append(f"{app}: uses Redis database {index} like {used_redis[index]}; their keys would collide")
        used_redis[index] = app
    return problems


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    rows = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def check_dockerfile(text: str) -> list[str]:
    problems = []
    rows = _instructions(text)
    froms = [arg for word, arg in rows if word == "FROM"]
    if not froms or not froms[-1].startswith("python:3.11-slim"):
        problems.append(f"Dockerfile: the final stage should be FROM python:3.11-slim, found {froms}")
    users = [arg for word, arg in rows if word == "USER"]
    if not users:
        problems.append("Dockerfile: no USER line; the services would run as root")
    elif users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"Dockerfile: the last USER is {users[-1]!r}; the services must not run as root")
    runs = " ".join(arg for word, arg in rows if word == "RUN")
    syncs = re.findall(r"uv sync[^&;]*", runs)
    if not syncs:
        problems.append("Dockerfile: dependencies are not installed with 'uv sync'")
    for sync in syncs:
        if "--frozen" not in sync and "--locked" not in sync:
            problems.append(f"Dockerfile: {sync.strip()!r} does not install exactly from uv.lock (add --frozen)")
        if re.search(r"--all-groups|--(only-)?group[ =]test\b|--dev\b", sync):
            problems.append(f"Dockerfile: {sync.strip()!r} installs the test group into the image")
    copies = " ".join(arg for word, arg in rows if word in ("COPY", "ADD"))
    if "uv.lock" not in copies:
        problems.append("Dockerfile: uv.lock is never copied into the image")
    cmd = next((arg for word, arg in reversed(rows) if word == "CMD"), "")
    for needed in ("SERVICE", "PORT", "migrate", "serve", "0.0.0.0"):
        if needed not in cmd:
            problems.append(f"Dockerfile: CMD does not mention {needed!r}; it should migrate then serve $SERVICE on 0.0.0.0:$PORT")
    if "migrate" in cmd and "serve" in cmd and cmd.index("migrate") > cmd.index("serve"):
        problems.append("Dockerfile: CMD serves before it migrates")
    return problems


def check_cluster(compose: Compose) -> list[str]:
    """Replicas behind the load balancer, which is the only proxy they trust."""
    problems = []
    services = compose["services"]
    lb = services.get(LB, {})
    if not str(lb.get("image", "")).startswith("nginx:"):
        problems.append(f"{LB}: should run an nginx image, not {lb.get('image')!r}")
    mounts = [str(v).split(":") for v in lb.get("volumes") or []]
    if not any((DEPLOY / m[0]).resolve() == NGINX_CONF.resolve() and m[1] == "/etc/nginx/nginx.conf" for m in mounts if len(m) >= 2):
        problems.append(f"{LB}: does not mount deploy/nginx.conf at /etc/nginx/nginx.conf; volumes: {lb.get('volumes')}")
    address = lb_address(compose)
    subnets = [
        ipaddress.ip_network(c["subnet"])
        for c in ((compose.get("networks") or {}).get(NETWORK) or {}).get("ipam", {}).get("config", [])
        if "subnet" in c
    ]
    if address is None or not any(address in net for net in subnets):
        problems.append(
            f"{LB}: needs a fixed ipv4_address inside the {NETWORK!r} network's subnet {subnets} (the services trust it by address)"
        )
    for app, (cls, _) in APPS.items():
        svc = services.get(app, {})
        replicas = (svc.get("deploy") or {}).get("replicas", 1)
        if int(replicas) < MIN_REPLICAS:
            problems.append(f"{app}: runs {replicas} replica(s); the cluster runs at least {MIN_REPLICAS}")
        if "container_name" in svc:
            problems.append(f"{app}: container_name allows one container only; replicas need generated names")
        prefix = cls.model_config["env_prefix"]
        trusted = [t.strip() for t in environment(svc).get(prefix + "TRUSTED_PROXIES", "").split(",") if t.strip()]
        if address is not None and not any(address in ipaddress.ip_network(t, strict=False) for t in trusted):
            problems.append(
                f"{app}: {prefix}TRUSTED_PROXIES {trusted} does not include the load balancer ({address}): "
                "every user would share its address in the per-address login limit"
            )
        if address is not None and any(
            n.num_addresses > 1 for t in trusted for n in [ipaddress.ip_network(t, strict=False)] if address in n
        ):
            problems.append(f"{app}: {prefix}TRUSTED_PROXIES trusts a whole network; any container in it could forge X-Forwarded-For")
    return problems


def check_workers(compose: Compose) -> list[str]:
    """A back-channel logout worker per provider, configured as the provider is."""
    problems = []
    services = compose["services"]
    for app in PROVIDERS:
        name = f"{app}_worker"
        worker = services.get(name, {})
        command = worker.get("command")
        text = " ".join(command) if isinstance(command, list) else str(command or "")
        if not re.search(rf"python -m services\.{app}\.manage worker\b", text):
            problems.append(f"{name}: command should be 'python -m services.{app}.manage worker', got {command!r}")
        if worker.get("build") != services.get(app, {}).get("build"):
            problems.append(f"{name}: should be built like {app} (the same image)")
        theirs = {k: v for k, v in environment(services.get(app, {})).items() if k not in RUNTIME_VARS}
        ours = {k: v for k, v in environment(worker).items() if k not in RUNTIME_VARS}
        if ours != theirs:
            differ = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            problems.append(f"{name}: environment differs from {app}'s in {differ}; it signs with the same keys in the same database")
        if ((worker.get("depends_on") or {}).get(app) or {}).get("condition") != "service_healthy":
            problems.append(f"{name}: should wait for {app} to be healthy (its replicas migrate the database; the worker does not)")
    return problems


def check_nginx(text: str) -> list[str]:
    """deploy/nginx.conf: a round-robin upstream and a listener per service, forwarding the client and a request id."""
    problems = []
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    for app, (_, port) in APPS.items():
        upstream = re.search(rf"upstream\s+(\w+)\s*\{{[^}}]*server\s+{app}:{port}\b[^}}]*\}}", code)
        if upstream is None:
            problems.append(f"nginx.conf: no upstream with 'server {app}:{port}'")
            continue
        if re.search(r"\b(least_conn|ip_hash|hash|random|least_time)\b", upstream.group(0)):
            problems.append(f"nginx.conf: upstream {upstream.group(1)} is not round-robin: {upstream.group(0)!r}")
        if not re.search(rf"listen\s+{port}\s*;[^}}]*proxy_pass\s+http://{upstream.group(1)}\s*;", code):
            problems.append(f"nginx.conf: no server listening on {port} with proxy_pass http://{upstream.group(1)}")
    for header, value in (("X-Forwarded-For", "$proxy_add_x_forwarded_for"), ("X-Request-ID", "$request_id")):
        if not re.search(rf"proxy_set_header\s+{header}\s+{re.escape(value)}\s*;", code):
            problems.append(f"nginx.conf: does not set {header} to {value}")
    return problems


CHECKS: dict[str, Callable[[Compose], list[str]]] = {
    "services": check_services,
    "build_and_ports": check_build_and_ports,
    "dependencies_and_health": check_dependencies_and_health,
    "environment_fields": check_environment_fields,
    "settings_load": check_settings_load,
    "secrets": check_secrets,
    "clients": check_clients,
    "issuers": check_issuers,
    "datastores": check_datastores,
    "cluster": check_cluster,
    "workers": check_workers,
}


# --------------------------------------------------------------------------
# The tests


@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose()


@pytest.mark.parametrize("check", list(CHECKS))
def test_compose(compose: Compose, check: str) -> None:
    if check != "services":
        missing = check_services(compose)
        assert not missing, "\n".join(missing)
    problems = CHECKS[check](compose)
    assert not problems, "\n".join(problems)


def test_dockerfile() -> None:
    assert DOCKERFILE.is_file(), "deploy/Dockerfile is missing"
    problems = check_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_nginx_conf() -> None:
    assert NGINX_CONF.is_file(), "deploy/nginx.conf is missing"
    problems = check_nginx(NGINX_CONF.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_every_variable_used_is_defined_or_required(compose: Compose) -> None:
    """An unset ${VAR} silently becomes "": each needs :? (or a default)."""
    loose = sorted({name for s in _strings(compose) for name, op in references(s) if op is None})
    assert not loose, f"variables interpolated without :? or a default (unset, they become empty strings): {loose}"


def test_readme_mentions_the_structural_check() -> None:
    readme = DEPLOY / "README.md"
    assert readme.is_file(), "deploy/README.md is missing"
    text = readme.read_text(encoding="utf-8")
    assert "docker compose -f deploy/docker-compose.yml up --build" in text, "deploy/README.md does not say how to start the stack"
    assert "tests/deploy/test_compose.py" in text, "deploy/README.md does not point at the structural test"


# --- the checks do catch mistakes ----------------------------------------


def _env(c: Compose, app: str) -> dict[str, Any]:
    return c["services"][app]["environment"]


def _replace_in(c: Compose, app: str, key: str, old: str, new: str) -> None:
    assert old in _env(c, app)[key], f"mutation target {old!r} not in {app}.{key}"
    _env(c, app)[key] = _env(c, app)[key].replace(old, new)


MUTATIONS: list[tuple[str, Callable[[Compose], None], str, str]] = [
    (
        "typo in a variable",
        lambda c: _env(c, "gdzwfw_idp").__setitem__("GDZWFW_PUBLIC_URI", "x"),
        "environment_fields",
        "GDZWFW_PUBLIC_URI is not a setting",
    ),
    (
        "other service's variable",
        lambda c: _env(c, "refund_portal").__setitem__("ISSO_CLIENTS", "[]"),
        "environment_fields",
        "ISSO_CLIENTS is not a setting",
    ),
    (
        "required field missing",
        lambda c: _env(c, "hrss_isso").pop("ISSO_GDZWFW_CLIENT_SECRET"),
        "environment_fields",
        "required setting ISSO_GDZWFW_CLIENT_SECRET",
    ),
    (
        "insecure cookies",
        lambda c: _env(c, "refund_portal").__setitem__("REFUND_COOKIE_SECURE", "false"),
        "settings_load",
        "cookie_secure must be true",
    ),
    (
        "literal secret key",
        lambda c: _env(c, "gdzwfw_idp").__setitem__("GDZWFW_SECRET_KEY", "x" * 40),
        "secrets",
        "GDZWFW_SECRET_KEY must be a required interpolation",
    ),
    (
        "literal audit key",
        lambda c: _replace_in(
            c, "refund_portal", "REFUND_AUDIT_KEYS", "${REFUND_AUDIT_KEY_K1:?set REFUND_AUDIT_KEY_K1 (at least 32 characters)}", "x" * 40
        ),
        "secrets",
        "REFUND_AUDIT_KEYS key 'k1' must be a required interpolation",
    ),
    (
        "audit keys from one literal",
        lambda c: _env(c, "refund_portal").__setitem__("REFUND_AUDIT_KEYS", "secret"),
        "secrets",
        "REFUND_AUDIT_KEYS should be a JSON object",
    ),
    (
        "placeholder audit key",
        lambda c: _replace_in(
            c,
            "refund_portal",
            "REFUND_AUDIT_KEYS",
            "${REFUND_AUDIT_KEY_K1:?set REFUND_AUDIT_KEY_K1 (at least 32 characters)}",
            "dev-audit-key-not-for-production",
        ),
        "settings_load",
        "each must be a real secret",
    ),
    (
        "no audit key",
        lambda c: _env(c, "refund_portal").pop("REFUND_AUDIT_KEYS"),
        "environment_fields",
        "required setting REFUND_AUDIT_KEYS",
    ),
    (
        "literal staff TOTP key",
        lambda c: _env(c, "gdzwfw_idp").__setitem__("GDZWFW_STAFF_TOTP_KEYS", "x" * 40),
        "secrets",
        "GDZWFW_STAFF_TOTP_KEYS must be a required interpolation",
    ),
    (
        "staff TOTP keys left at the placeholder",
        lambda c: _env(c, "gdzwfw_idp").pop("GDZWFW_STAFF_TOTP_KEYS"),
        "settings_load",
        "staff_totp_keys must be real secrets",
    ),
    (
        "literal client secret",
        lambda c: _replace_in(
            c, "hrss_isso", "ISSO_CLIENTS", "${REFUND_CLIENT_SECRET_AT_ISSO:?set REFUND_CLIENT_SECRET_AT_ISSO}", "s3cret"
        ),
        "secrets",
        "literal client_secret",
    ),
    (
        "secrets differ at both ends",
        lambda c: _env(c, "hrss_isso").__setitem__("ISSO_GDZWFW_CLIENT_SECRET", "${OTHER:?}"),
        "secrets",
        "must be the same variable",
    ),
    (
        "wrong redirect path",
        lambda c: _replace_in(c, "gdzwfw_idp", "GDZWFW_CLIENTS", "/isso/federation/gdzwfw/callback", "/callback"),
        "clients",
        "expected ['http://isso.localhost:8002/isso/federation/gdzwfw/callback']",
    ),
    (
        "wrong redirect port",
        lambda c: _replace_in(c, "hrss_isso", "ISSO_CLIENTS", "localhost:8003/auth", "localhost:9003/auth"),
        "clients",
        "expected ['http://portal.localhost:8003/auth/callback']",
    ),
    (
        "no introspection",
        lambda c: _replace_in(c, "hrss_isso", "ISSO_CLIENTS", '"introspection_allowed": true', '"introspection_allowed": false'),
        "clients",
        "introspection_allowed=True",
    ),
    ("broken JSON", lambda c: _replace_in(c, "gdzwfw_idp", "GDZWFW_CLIENTS", "]", ""), "clients", "not a JSON list of ClientConfig"),
    (
        "wrong issuer",
        lambda c: _env(c, "refund_portal").__setitem__("REFUND_ISSO_ISSUER", "http://isso.localhost:8002"),
        "issuers",
        "hrss_isso's issuer is 'http://isso.localhost:8002/isso'",
    ),
    (
        "back channel unreachable",
        lambda c: c["services"][LB]["networks"][NETWORK]["aliases"].remove("isso.localhost"),
        "issuers",
        "isso.localhost is not the load balancer",
    ),
    (
        "service off the network",
        lambda c: c["services"]["refund_portal"].__setitem__("networks", ["other"]),
        "issuers",
        "which refund_portal joins",
    ),
    (
        "port not published",
        lambda c: c["services"][LB].__setitem__("ports", ["127.0.0.1:8001:8001"]),
        "build_and_ports",
        "port 8002 is not published",
    ),
    (
        "replica publishes a port",
        lambda c: c["services"]["hrss_isso"].__setitem__("ports", ["8002:8002"]),
        "build_and_ports",
        "replicas cannot share a host port",
    ),
    (
        "plain localhost",
        lambda c: _env(c, "refund_portal").__setitem__("REFUND_PUBLIC_URL", "http://localhost:8003"),
        "build_and_ports",
        "http://<name>.localhost:8003",
    ),
    (
        "liveness healthcheck",
        lambda c: c["services"]["gdzwfw_idp"]["healthcheck"].__setitem__("test", ["CMD", "curl", "http://127.0.0.1:8001/healthz"]),
        "dependencies_and_health",
        "should request /readyz",
    ),
    ("one replica", lambda c: c["services"]["hrss_isso"].pop("deploy"), "cluster", "hrss_isso: runs 1 replica(s)"),
    (
        "fixed container name",
        lambda c: c["services"]["refund_portal"].__setitem__("container_name", "portal"),
        "cluster",
        "container_name allows one container",
    ),
    (
        "proxy not trusted",
        lambda c: _env(c, "refund_portal").pop("REFUND_TRUSTED_PROXIES"),
        "cluster",
        "does not include the load balancer",
    ),
    (
        "another proxy trusted",
        lambda c: _env(c, "gdzwfw_idp").__setitem__("GDZWFW_TRUSTED_PROXIES", "172.30.0.11"),
        "cluster",
        "does not include the load balancer",
    ),
    (
        "whole network trusted",
        lambda c: _env(c, "hrss_isso").__setitem__("ISSO_TRUSTED_PROXIES", "172.30.0.0/24"),
        "cluster",
        "trusts a whole network",
    ),
    (
        "balancer address floats",
        lambda c: c["services"][LB]["networks"][NETWORK].pop("ipv4_address"),
        "cluster",
        "needs a fixed ipv4_address",
    ),
    ("balancer without its config", lambda c: c["services"][LB].__setitem__("volumes", []), "cluster", "does not mount deploy/nginx.conf"),
    ("balancer is not nginx", lambda c: c["services"][LB].__setitem__("image", "haproxy:3"), "cluster", "should run an nginx image"),
    ("no worker", lambda c: c["services"]["hrss_isso_worker"].__setitem__("command", ["sleep", "infinity"]), "workers", "manage worker"),
    (
        "worker on another database",
        lambda c: c["services"]["gdzwfw_idp_worker"].__setitem__(
            "environment", {**environment(c["services"]["gdzwfw_idp_worker"]), "GDZWFW_DATABASE_URL": "sqlite:///x.db"}
        ),
        "workers",
        "GDZWFW_DATABASE_URL",
    ),
    (
        "worker starts before migrations",
        lambda c: c["services"]["gdzwfw_idp_worker"].pop("depends_on"),
        "workers",
        "should wait for gdzwfw_idp",
    ),
    (
        "wrong Dockerfile",
        lambda c: c["services"]["refund_portal"]["build"].__setitem__("dockerfile", "Dockerfile"),
        "build_and_ports",
        "not from deploy/Dockerfile",
    ),
    (
        "unconditional dependency",
        lambda c: c["services"]["gdzwfw_idp"].__setitem__("depends_on", ["postgres", "redis"]),
        "dependencies_and_health",
        "use conditions",
    ),
    (
        "no redis dependency",
        lambda c: c["services"]["hrss_isso"]["depends_on"].pop("redis"),
        "dependencies_and_health",
        "hrss_isso: does not depend on redis",
    ),
    (
        "shared redis database",
        lambda c: _env(c, "refund_portal").__setitem__("REFUND_REDIS_URL", "redis://redis:6379/0"),
        "datastores",
        "keys would collide",
    ),
    (
        "database never created",
        lambda c: _replace_in(c, "refund_portal", "REFUND_DATABASE_URL", "/refund", "/refunds"),
        "datastores",
        "database 'refunds' is never created",
    ),
    ("missing service", lambda c: c["services"].pop("redis"), "services", "service 'redis' is missing"),
]


@pytest.mark.parametrize(("mutate", "check", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_checks_catch_mistakes(compose: Compose, mutate: Callable[[Compose], None], check: str, expected: str) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    problems = CHECKS[check](broken)
    assert any(expected in p for p in problems), f"check {check!r} missed the mistake; it reported {problems}"


DOCKERFILE_MUTATIONS = [
    ("runs as root", lambda t: re.sub(r"^USER .*$", "", t, flags=re.M), "no USER line"),
    ("switches back to root", lambda t: t + "\nUSER root\n", "must not run as root"),
    ("unlocked install", lambda t: t.replace("--frozen", ""), "add --frozen"),
    ("test group installed", lambda t: t.replace("--no-group test", "--group test"), "installs the test group"),
    ("no lockfile", lambda t: t.replace("uv.lock", ""), "uv.lock is never copied"),
]


NGINX_MUTATIONS = [
    (
        "sticky by address",
        lambda t: t.replace("zone hrss_isso 64k;", "zone hrss_isso 64k; ip_hash;"),
        "upstream hrss_isso is not round-robin",
    ),
    (
        "least connections",
        lambda t: t.replace("zone gdzwfw_idp 64k;", "zone gdzwfw_idp 64k; least_conn;"),
        "upstream gdzwfw_idp is not round-robin",
    ),
    (
        "client's request id passed on",
        lambda t: t.replace("X-Request-ID $request_id", "X-Request-ID $http_x_request_id"),
        "does not set X-Request-ID",
    ),
    (
        "client address dropped",
        lambda t: t.replace("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", ""),
        "does not set X-Forwarded-For",
    ),
    (
        "wrong upstream port",
        lambda t: t.replace("refund_portal:8003", "refund_portal:8000"),
        "no upstream with 'server refund_portal:8003'",
    ),
    ("listener missing", lambda t: t.replace("listen 8002;", "listen 9002;"), "no server listening on 8002"),
    (
        "commented out",
        lambda t: t.replace("    proxy_set_header X-Request-ID", "    # proxy_set_header X-Request-ID"),
        "does not set X-Request-ID",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [m[1:] for m in NGINX_MUTATIONS], ids=[m[0] for m in NGINX_MUTATIONS])
def test_nginx_check_catches_mistakes(mutate: Callable[[str], str], expected: str) -> None:
    text = NGINX_CONF.read_text(encoding="utf-8")
    assert mutate(text) != text, "mutation target not found"
    problems = check_nginx(mutate(text))
    assert any(expected in p for p in problems), f"check_nginx missed the mistake; it reported {problems}"


@pytest.mark.parametrize(("mutate", "expected"), [m[1:] for m in DOCKERFILE_MUTATIONS], ids=[m[0] for m in DOCKERFILE_MUTATIONS])
def test_dockerfile_check_catches_mistakes(mutate: Callable[[str], str], expected: str) -> None:
    problems = check_dockerfile(mutate(DOCKERFILE.read_text(encoding="utf-8")))
    assert any(expected in p for p in problems), f"check_dockerfile missed the mistake; it reported {problems}"
