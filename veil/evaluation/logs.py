"""Synthetic "typical" log lines for benchmarks: mostly routine lines, some carrying sensitive values."""

from __future__ import annotations

import random

from veil.evaluation.dataset import templates, render

_ROUTINE = (
    '{ip} - - [20/Nov/2026:10:{m:02d}:{s:02d} +0000] "GET /api/v1/{res}/{id} HTTP/1.1" {status} {size} "-" "curl/8.5.0"',
    "2026-11-20T10:{m:02d}:{s:02d}.{ms:03d}Z INFO  {svc} request completed path=/v1/{res} status={status} duration={dur}ms",
    "2026-11-20T10:{m:02d}:{s:02d}.{ms:03d}Z DEBUG {svc} cache hit key={res}:{id} ttl=300",
    "2026-11-20T10:{m:02d}:{s:02d}.{ms:03d}Z WARN  {svc} slow query on table {res} took {dur}ms rows={size}",
    "2026-11-20 10:{m:02d}:{s:02d},{ms:03d} INFO  [scheduler] job {res}-sync finished in {dur}ms",
    "Nov 20 10:{m:02d}:{s:02d} web-{n} systemd[1]: Started {svc}.service - {res} worker {n}.",
    'level=info ts=2026-11-20T10:{m:02d}:{s:02d}Z caller=server.go:{n} msg="handled" method=GET path=/{res} code={status}',
    '{{"ts":"2026-11-20T10:{m:02d}:{s:02d}Z","level":"info","svc":"{svc}","msg":"queue drained","items":{size}}}',
)
_SERVICES = ("api-gw", "auth-svc", "billing", "search", "orders", "mailer", "ingest")
_RESOURCES = ("orders", "users", "invoices", "products", "sessions", "carts", "reports")


def typical_lines(n: int, *, seed: int = 7, sensitive_share: float = 0.1) -> list[str]:
    rng = random.Random(seed)
    sensitive = templates("log_templates.txt")
    out = []
    for _ in range(n):
        if rng.random() < sensitive_share:
            out.append(render(rng.choice(sensitive), rng)[0])
            continue
        out.append(rng.choice(_ROUTINE).format(
            ip=f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            m=rng.randint(0, 59), s=rng.randint(0, 59), ms=rng.randint(0, 999), res=rng.choice(_RESOURCES),
            id=rng.randint(1, 99999), status=rng.choice((200, 200, 200, 201, 204, 304, 404, 500)),
            size=rng.randint(100, 99999), svc=rng.choice(_SERVICES), dur=rng.randint(1, 2500), n=rng.randint(1, 64)))
    return out
