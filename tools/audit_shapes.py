"""What a credential looks like, for tools.audit: documented token formats, URL userinfo, and the
key names that hold credentials (the policy pack's env-name heuristics, extended to camelCase
keys). Pure functions on strings; no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Iterator, Optional
from urllib.parse import unquote

# The pack's heuristics (policies/tradesense_rules/k8s_pod.py), reused rather than copied.
from policies.tradesense_rules.k8s_pod import (
    CLIENT_CREDENTIAL_NAMES,
    PUBLIC_NAME_WORDS,
    SECRET_WORD_SUFFIXES,
    harmless_value,
    literal_credential,
)

# Documented token formats. Each match is a credential whatever key holds it.
SHAPES: list[tuple[str, re.Pattern]] = [
    ("AWS access key id", re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")),
    # A secret access key is 40 base64 characters: only recognisable next to its name.
    ("AWS secret access key", re.compile(r"(?i)aws_?secret_?access_?key[\"'\s]*[:=]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")),
    ("GitHub token", re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("GitLab token", re.compile(r"(?<![A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}")),
    ("Slack token", re.compile(r"(?<![A-Za-z0-9])(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})")),
    ("Slack webhook", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{8,}")),
    ("Stripe secret key", re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}")),
    ("Stripe webhook secret", re.compile(r"(?<![A-Za-z0-9])whsec_[A-Za-z0-9+/=]{16,}")),
    ("DigitalOcean token", re.compile(r"(?<![A-Za-z0-9])do[opr]_v1_[a-f0-9]{64}(?![a-f0-9])")),
    ("PagerDuty key", re.compile(r"(?i)(?:routing|service|integration)[_-]?key[\"'\s]*[:=]\s*[\"']?[a-z0-9]{32}(?![a-z0-9])")),
    ("PagerDuty key", re.compile(r"https://events\.pagerduty\.com/(?:integration|x-ere)/[a-z0-9]{32}")),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("JWT", re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{8,}")),
    ("Sentry DSN", re.compile(r"(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[0-9a-f]{32}(?::[0-9a-f]{32})?@[^/\s\"']+/\d+")),
    ("Google API key", re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])")),
    ("npm token", re.compile(r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])")),
    ("Pulumi access token", re.compile(r"(?<![A-Za-z0-9])pul-[a-f0-9]{40}(?![a-f0-9])")),
    ("SendGrid key", re.compile(r"(?<![A-Za-z0-9])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")),
]
# One alternation of every shape: the scrubber masks any of them in printed text.
ANY_SHAPE = re.compile("|".join(f"(?:{p.pattern.removeprefix('(?i)')})" for _, p in SHAPES), re.IGNORECASE)

# The lookbehind starts a scheme only at its first letter: without it a long run of letters is
# re-scanned from every position (quadratic in the run).
_SCHEME = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://")
_URL_END = re.compile(r"[\s\"'<>`]")
_PORT_PATH = re.compile(r"^\d{1,5}(?:/|$)")
_REFERENCE = re.compile(r"^\s*(?:\$\(.*\)|\$\{.*\}|\{\{.*\}\}|%\(.*\)s|<[^<>]*>|\[secret\]|\*+|x{3,}|redacted|REDACTED|\$[A-Z_][A-Z0-9_]*)\s*$", re.DOTALL)


def shapes_in(text: str) -> Iterator[tuple[str, str]]:
    """(kind, matched text) of every documented credential format in `text`."""
    for kind, pattern in SHAPES:
        for match in pattern.finditer(text):
            yield kind, match.group(0)


def is_reference(value: str) -> bool:
    """`$(VAR)`, `${VAR}`, `{{ .x }}`, `<placeholder>`, `****`: the consumer fills it in, or a mask."""
    return bool(_REFERENCE.match(value))


def url_userinfo(text: str) -> Iterator[tuple[str, list[str]]]:
    """(kind, sensitive parts) of every URL whose userinfo carries a password or a token.

    Parsed by hand, not with urlsplit: a password may hold `@`, `/`, `#`, `?`, percent-escapes or
    unicode, and the host may be an IPv6 literal; the userinfo ends at the LAST `@` before the
    path (RFC 3986 forbids a raw `@` in it, but clients split at the last one)."""
    for scheme in _SCHEME.finditer(text):
        start = scheme.end()
        end_match = _URL_END.search(text, start)
        token = text[start: end_match.start() if end_match else len(text)]
        if "@" not in token:
            continue
        authority = re.split(r"[/?#]", token, maxsplit=1)[0]
        if "@" in authority:
            userinfo = authority.rsplit("@", 1)[0]
        else:
            # The `@` comes after a `/`, `?` or `#`: a password that holds one of them, or a path.
            userinfo = token.rsplit("@", 1)[0]
            user = userinfo.split(":", 1)[0]
            if ":" not in userinfo or re.search(r"[/?#]", user) or _PORT_PATH.match(userinfo.split(":", 1)[1]):
                continue
        user, sep, password = userinfo.partition(":")
        decoded = unquote(password)
        if sep and decoded and not is_reference(decoded) and not is_reference(password):
            yield "password in a URL", [password, decoded, userinfo, scheme.group(0) + token]
        elif not sep and len(user) >= 20 and re.fullmatch(r"[A-Za-z0-9_\-.%]+", user) and re.search(r"\d", user) and re.search(r"[A-Za-z]", user):
            yield "token as URL user", [user, unquote(user), scheme.group(0) + token]


def pack_credential(text: str) -> Optional[str]:
    """The policy pack's literal-credential verdict (token formats and credential URL query
    parameters), so the audit never misses what the pack would flag in an env var."""
    what = literal_credential(text)
    # URL userinfo is judged by url_userinfo above, which knows references (`$(VAR)`) and masks.
    return None if what == "a URL with an embedded password" else what


# --- key names ----------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
SECRET_LAST_WORDS = {"password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "credential", "credentials", "dsn"}
# `<qualifier> key` names a credential; a bare `key` names a map key, a label or a Secret's item.
KEY_QUALIFIERS = {"api", "private", "secret", "signing", "encryption", "client", "master", "license", "auth",
                  "account", "service", "routing", "integration", "webhook", "session", "shared", "hmac", "ssh", "tls", "sign"}
# `existingSecret: app-db`, `secretRef`: the name of a Secret, not its content.
REFERENCE_PREFIXES = {"existing", "ref", "from", "use"}
_PUBLIC = {w.lower() for w in PUBLIC_NAME_WORDS}
_SUFFIXES = tuple(s.lower() for s in SECRET_WORD_SUFFIXES)


def key_words(name: str) -> list[str]:
    """`apiKey` -> [api, key]; `DB_PASSWORD` -> [db, password]; `client-key-data` -> [client, key, data]."""
    return [w.lower() for w in _WORD.findall(name)]


def secret_key_name(name: str) -> bool:
    """Whether a property named `name` holds a credential, judged on its last word: `dbPassword`,
    `apiKey`, `private_key`, `sentryDsn`, `PGPASSWORD` yes; `passwordPolicy`, `tokenTtl`,
    `secretName`, `key` no."""
    if name.upper() in CLIENT_CREDENTIAL_NAMES:
        return True
    words = key_words(name)
    if not words or set(words) & _PUBLIC:
        return False
    last = words[-1]
    before = words[-2] if len(words) > 1 else ""
    if before in REFERENCE_PREFIXES:
        return False
    if last in SECRET_LAST_WORDS:
        return True
    if last == "key":  # `accessKey` alone is a key id (MinIO, Spaces); `secretAccessKey` is not
        return any(w in KEY_QUALIFIERS or w.endswith(("secret", "private")) for w in words[:-1])
    return last.endswith(_SUFFIXES) and last not in {"secrets"}


_PUBLIC_VALUE = re.compile(r"^\s*(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-\S+|sk-ssh-\S+|-----BEGIN (?:PUBLIC KEY|CERTIFICATE|SSH2 PUBLIC KEY|RSA PUBLIC KEY)-----)")


# `configSecret: alertmanager-config`: under a name ending in `secret`, a Kubernetes object name
# with a hyphen names the Secret that holds the value.
_K8S_NAME = re.compile(r"^[a-z0-9]+(?:[-.][a-z0-9]+)*-[a-z0-9]+$")


def plain_value(value: str, name: str = "") -> bool:
    """A value under a secret-like name that is plainly not a credential: empty, a number,
    a boolean, a duration, a reference or mask, an ARN, a file path, a public key, the name of
    a Secret under a `...Secret` key."""
    text = value.strip()
    words = key_words(name)
    return (harmless_value(text) or is_reference(text) or text.startswith(("arn:aws:", "arn:aws-", "/"))
            or bool(_PUBLIC_VALUE.match(text))
            or bool(words and words[-1] == "secret" and len(text) <= 63 and _K8S_NAME.match(text)))


# --- encodings ----------------------------------------------------------------------------------

_B64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def base64_text(value: str, minimum: int = 8) -> Optional[str]:
    """The UTF-8 text a base64 (standard or URL-safe) string encodes, or None."""
    text = value.strip()
    if len(text) < minimum or not _B64.match(text):
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded if decoded.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in decoded) else None


def printable_ratio(raw: bytes) -> float:
    return sum(32 <= b < 127 or b in (9, 10, 13) for b in raw) / max(1, len(raw))
