"""Secrets in configuration files: Veil's detectors beside detect-secrets, on files this project writes.

    .venv/bin/pip install detect-secrets        # the comparison only; not a Veil dependency
    .venv/bin/python -m veil.ops.bench.secrets_corpus [--copies 20] [--seed 7] [--json out.json]

The corpus: configuration files of the kinds people leak (INI, .env, YAML, JSON, XML, Java
properties, PHP, .netrc, .pgpass, .git-credentials, .npmrc, Docker ``config.json``, FileZilla
``sitemanager.xml``, ``.htpasswd``, ``/etc/shadow``, a password dump, ADO.NET and JDBC connection
strings, PEM and PuTTY private keys), each written ``--copies`` times with fresh random values,
and with the look-alikes a scanner must leave alone: public keys and certificates, placeholders
(``changeme``, ``<your-password>``, ``${DB_PASSWORD}``), documented example hashes, key names
that only mention a secret (``password_min_length``, ``token_url``). Every secret's span is known.

A labelled secret is found when a finding covers it (Veil) or when the scanner reports a secret
value inside it on its line (detect-secrets reports lines and values). Precision counts the
findings (Veil) or reported values (detect-secrets) that cover no labelled secret. Figures per
file kind and overall.
"""

from __future__ import annotations

import argparse
import base64
import random
import string
import tempfile
from collections import defaultdict
from pathlib import Path

from veil.ops.bench import write_figures

_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_CRYPT = _ALNUM + "./"


def _rand(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _password(rng: random.Random) -> str:
    return _rand(rng, rng.randint(4, 6)) + rng.choice("!#%*_-") + _rand(rng, rng.randint(3, 8))


def _pem(rng: random.Random, kind: str) -> str:
    body = "\n".join(_rand(rng, 64, _B64) for _ in range(6))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


#: file kind -> template; ``[[...]]`` marks a secret, the rest is look-alike or plain text.
def _templates(rng: random.Random) -> dict[str, str]:
    pw, tok = (lambda: _password(rng)), (lambda: _rand(rng, 32))
    b64auth = base64.b64encode(f"deploy:{_password(rng)}".encode()).decode()
    hexpw = _rand(rng, 32, "0123456789ABCDEF")
    return {
        "ini": f"[database]\nhost = db01.example.net\nRootPassword = [[{pw()}]]\nAdminPassword=\"[[{pw()}]]\"\n"
               f"password_min_length = 12\n[smtp]\nsmtp_pass = [[{pw()}]]\nuser = mailer\n",
        "env": f"DB_HOST=db01\nMYSQL_ROOT_PASSWORD=[[{pw()}]]\nSTRIPE_SECRET=[[{tok()}]]\nAPI_TOKEN=[[{tok()}]]\n"
               f"PASSWORD_RESET_URL=https://example.net/reset\nDB_PASSWORD=${{VAULT_DB_PASSWORD}}\n",
        "yaml": f"db:\n  user: app\n  password: [[{pw()}]]\nauth:\n  client_secret: [[{tok()}]]\n  token_url: "
                f"https://auth.example.net/token\nexample:\n  password: changeme\n  api_key: <your-api-key>\n",
        "json": f'{{"dbPassword": "[[{pw()}]]", "signingKey": "[[{tok()}]]", "publicKey": "{_rand(rng, 44, _B64)}",\n'
                f' "keySize": 2048, "passwordPolicy": "strict"}}\n',
        "xml": f'<configuration>\n  <add key="DbPassword" value="[[{pw()}]]" />\n  <add key="Theme" value="dark" />\n'
               f'  <Pass encoding="base64">[[{base64.b64encode(pw().encode()).decode()}]]</Pass>\n</configuration>\n',
        "properties": f"spring.datasource.url=jdbc:mysql://db01:3306/shop\nspring.datasource.password=[[{pw()}]]\n"
                      f"app.jwt.secret=[[{tok()}]]\napp.password.hash-algorithm=bcrypt\n",
        "php": f"<?php\ndefine('DB_NAME', 'wordpress');\ndefine('DB_PASSWORD', '[[{pw()}]]');\n"
               f"define('AUTH_KEY', '[[{_rand(rng, 48)}]]');\n",
        "netrc": f"machine api.example.net login deploy password [[{pw()}]]\n",
        "pgpass": f"db01.example.net:5432:shop:app_rw:[[{pw()}]]\n",
        "git-credentials": f"https://deploy:[[{tok()}]]@git.example.net\n",
        "npmrc": f"registry=https://registry.example.net/\n//registry.example.net/:_authToken=[[{tok()}]]\n"
                 f"_auth = [[{b64auth}]]\n",
        "docker": f'{{"auths": {{"registry.example.net": {{"auth": "[[{b64auth}]]"}}}}}}\n',
        "filezilla": f'<Server><Host>ftp.example.net</Host><User>deploy</User>'
                     f'<Pass encoding="base64">[[{base64.b64encode(pw().encode()).decode()}]]</Pass></Server>\n',
        "htpasswd": f"admin:[[$apr1${_rand(rng, 8, _CRYPT)}${_rand(rng, 22, _CRYPT)}]]\n"
                    f"ops:[[{{SHA}}{_rand(rng, 27, _B64)}=]]\n",
        "shadow": f"root:[[$6${_rand(rng, 16, _CRYPT)}${_rand(rng, 86, _CRYPT)}]]:19000:0:99999:7:::\n"
                  f"svc:[[$2b$12${_rand(rng, 53, _CRYPT)}]]:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
        "pwdump": f"Administrator:500:[[{_rand(rng, 32, '0123456789abcdef')}:{_rand(rng, 32, '0123456789abcdef')}]]:::\n",
        "mysql": f"| app | %  | [[*{_rand(rng, 40, '0123456789ABCDEF')}]] |\n",
        "django": f"pbkdf2 hashes look like pbkdf2_sha256$<iterations>$<salt>$<hash>\n"
                  f"admin [[pbkdf2_sha256$600000${_rand(rng, 22)}${_rand(rng, 43, _B64)}=]]\n",
        "adonet": f'<connectionStrings><add name="main" connectionString="Server=db01;Database=shop;User Id=sa;'
                  f'Password=[[{pw()}]];" /></connectionStrings>\n',
        "winscp": f"[Sessions\\deploy@ftp.example.net]\nHostName=ftp.example.net\nPassword=[[{hexpw}]]\n",
        "pem": _pem(rng, "CERTIFICATE") + "\n[[" + _pem(rng, "RSA PRIVATE KEY") + "]]\n"
               + "ssh-ed25519 " + _rand(rng, 68, _B64) + " ops@example.net\n",
        "putty": "[[PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n"
                 + _rand(rng, 64, _B64) + "\n" + _rand(rng, 40, _B64) + "\nPrivate-Lines: 2\n" + _rand(rng, 64, _B64)
                 + "\n" + _rand(rng, 40, _B64) + "\nPrivate-MAC: " + _rand(rng, 40, "0123456789abcdef") + "]]\n",
    }


def corpus(copies: int, seed: int) -> list[tuple[str, str, list[tuple[int, int]]]]:
    """(kind, text, secret spans) for every file of the corpus."""
    rng = random.Random(seed)
    out = []
    for _ in range(copies):
        for kind, marked in _templates(rng).items():
            text, spans, at = "", [], 0
            while (start := marked.find("[[", at)) >= 0:
                end = marked.index("]]", start)
                text += marked[at:start]
                spans.append((len(text), len(text) + end - start - 2))
                text += marked[start + 2:end]
                at = end + 2
            out.append((kind, text + marked[at:], spans))
    return out


def _veil(files):
    from veil.detectors import patterns, scan

    detectors = patterns.default_detectors()
    return [[(f.start, f.end) for f in scan(text, detectors) if f.category.value == "secret"] for _, text, _ in files]


def _detect_secrets(files):
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    out = []
    with tempfile.TemporaryDirectory() as tmp, default_settings():
        for i, (_, text, _) in enumerate(files):
            path = Path(tmp) / f"f{i}.txt"
            path.write_text(text, encoding="utf-8")
            found = SecretsCollection()
            found.scan_file(str(path))
            lines = text.split("\n")
            starts = [sum(len(x) + 1 for x in lines[:k]) for k in range(len(lines))]
            spans = []
            for _, secret in found:
                value, line = secret.secret_value or "", secret.line_number - 1
                col = lines[line].find(value) if value else -1
                spans.append((starts[line] + max(col, 0), starts[line] + max(col, 0) + max(len(value), 1)))
            out.append(spans)
    return out


def _score(files, found) -> dict:
    per: defaultdict[str, dict[str, int]] = defaultdict(lambda: {"secrets": 0, "caught": 0, "findings": 0, "false": 0})
    for (kind, _, spans), hits in zip(files, found):
        row = per[kind]
        row["secrets"] += len(spans)
        row["caught"] += sum(any(a < e and s < b for a, b in hits) for s, e in spans)
        row["findings"] += len(hits)
        row["false"] += sum(not any(a < e and s < b for s, e in spans) for a, b in hits)
    total = {k: sum(r[k] for r in per.values()) for k in ("secrets", "caught", "findings", "false")}
    figures = {kind: _rates(r) for kind, r in sorted(per.items())}
    figures["all"] = _rates(total)
    return figures


def _rates(r: dict) -> dict:
    return {**r, "recall": r["caught"] / r["secrets"] if r["secrets"] else None,
            "precision": (r["findings"] - r["false"]) / r["findings"] if r["findings"] else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    files = corpus(args.copies, args.seed)
    results = {"veil": _score(files, _veil(files))}
    try:
        results["detect-secrets"] = _score(files, _detect_secrets(files))
    except ImportError:
        print("detect-secrets is not installed: Veil only")
    fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    print(f"{len(files)} files; recall / precision per file kind")
    print(f"{'kind':16}" + "".join(f"{name:>22}" for name in results))
    for kind in results["veil"]:
        print(f"{kind:16}" + "".join(f"{fmt(r[kind]['recall']):>11}{fmt(r[kind]['precision']):>11}" for r in results.values()))
    write_figures(args.json, {"files": len(files), "seed": args.seed, "results": results})


if __name__ == "__main__":
    main()
