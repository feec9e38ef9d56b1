"""Synthetic "typical" log lines for benchmarks: mostly routine lines, some carrying sensitive values."""

from __future__ import annotations

import random

from veil.evaluation.dataset import render, templates

_ROUTINE = (
    '{ip} - - [20/Nov/2026:10:{m:02d}:{s:02d} +0000] "GET /api/v1/{res}/{id} HTTP/1.1" {status} {size} "-" "curl/8.5.0"',
    "2026-11-20T10:{m:02d}:{s:02d}.{ms:03d}Z INFO  {svc} request completed path=/v1/{res} status={status} duration={dur}ms",
    "2026-11-20T10:{m:02d}:{s:02d}.{ms:03d}Z DEBUG {svc} cache hit key={res}:{id} ttl=300",
    "2026-11-20T10:{m:02d}:{s:02d}.{ms:03d}Z WARN  {svc} slow query on table {res} took {dur}ms rows={size}",
    "2026-11-20 10:{m:02d}:{s:02d},{ms:03d} INFO  [scheduler] job {res}-sync finished in {dur}ms",
    "Nov 20 10:{m:02d}:{s:02d} web-{n} systemd[1]: Started {svc}.service - {res} worker {n}.",
    'level=info ts=2026-11-20T10:{m:02d}:{s:02d}Z caller=server.go:{n} msg="handled" method=GET path=/{res} code={status}',
    '{{"ts":"2026-11-20T10:{m:02d}:{s:02d}Z","level":"info","svc":"{svc}","msg":"queue drained","items":{size}}}',
    # More formats seen in real fleets: Kubernetes, proxies, databases, JVM, schedulers, CI.
    'I1120 10:{m:02d}:{s:02d}.{us:06d}       1 reconciler.go:{n}] "Reconciled object" pod="{kns}/{pod}" duration="{dur}ms"',
    '2026/11/20 10:{m:02d}:{s:02d} [error] {n}#0: *{id} upstream timed out (110: Connection timed out) while reading '
    'response header from upstream, client: {ip}, server: api.example.com, request: "GET /v1/{res} HTTP/1.1"',
    "2026-11-20 10:{m:02d}:{s:02d}.{ms:03d} UTC [{pid}] LOG:  duration: {dur}.{ms:03d} ms  statement: SELECT * FROM {res} WHERE id = {id}",
    "2026-11-20 10:{m:02d}:{s:02d}.{ms:03d}  INFO {pid} --- [nio-8080-exec-{n}] c.e.shop.web.{Res}Controller    : "
    "GET /{res}/{id} completed in {dur} ms",
    "{pid}:M 20 Nov 2026 10:{m:02d}:{s:02d}.{ms:03d} * {n} changes in 300 seconds. Saving...",
    "Nov 20 10:{m:02d}:{s:02d} worker-{n} CRON[{pid}]: (root) CMD (/usr/local/bin/{res}-cleanup --days {n})",
    "Nov 20 10:{m:02d}:{s:02d} node-{n} kernel: [{sec}.{us:06d}] eth0: link up, 1000 Mbps, full duplex",
    'Nov 20 10:{m:02d}:{s:02d} lb-1 haproxy[{pid}]: {ip}:{port} [20/Nov/2026:10:{m:02d}:{s:02d}.{ms:03d}] http-in '
    '{svc}/{svc}-{n} 0/0/{a}/{b}/{dur} {status} {size} - - ---- {n}/{n}/0/0/0 0/0 "GET /{res} HTTP/1.1"',
    '{{"level":"debug","ts":{epoch}.{ms:03d},"logger":"{svc}","msg":"fetched page","page":{n},"items":{size},"trace_id":"{hex32}"}}',
    'time="2026-11-20T10:{m:02d}:{s:02d}Z" level=info msg="worker heartbeat" worker={svc}-{n} queue_depth={size} inflight={n}',
    "[2026-11-20 10:{m:02d}:{s:02d},{ms:03d}] INFO in {res}: processed batch {id} with {size} rows in {dur} ms",
    "[2026-11-20 10:{m:02d}:{s:02d},{ms:03d}: INFO/ForkPoolWorker-{n}] Task tasks.{res}.refresh[{uuid}] succeeded in {dur}.{ms:03d}s: None",
    '[2026-11-20T10:{m:02d}:{s:02d}.{ms:03d}Z] "POST /api.v1.{Res}Service/Get HTTP/2" {status} - {size} {size2} {dur} {dur2} '
    '"-" "grpc-go/1.59.0" "{uuid}" "{svc}:8080" "{upstream}:8080"',
    "Nov 20 10:{m:02d}:{s:02d} web-{n} systemd[1]: {svc}.service: Consumed {sec}.{ms:03d}s CPU time.",
    "2026-11-20T10:{m:02d}:{s:02d}.{ns:09d}Z container {hex12} health_status: healthy",
    "[{sec}.{ms:03d}s][info][gc] GC({id}) Pause Young (Normal) (G1 Evacuation Pause) {a}M->{b}M({c}M) {dur}.{ms:03d}ms",
    'ts=2026-11-20T10:{m:02d}:{s:02d}.{ms:03d}Z caller=scrape.go:{n} level=warn component="scrape manager" '
    'scrape_pool={res} target=http://{svc}:9100/metrics msg="Append failed" err="out of order sample"',
    "Completed {status} OK in {dur}ms (Views: {a}.{b}ms | ActiveRecord: {c}.{n}ms | Allocations: {size})",
    'Started GET "/{res}/{id}" for {ip} at 2026-11-20 10:{m:02d}:{s:02d} +0000',
    '{m}m{s}s       Normal   Pulled   pod/{pod}   Container image "registry.example.com/{svc}:v1.{a}.{b}" already present on machine',
    "2026-11-20T10:{m:02d}:{s:02d}Z INFO  ci-runner job {id} stage={stage} finished status=success duration={dur}s",
    "2026-11-20T10:{m:02d}:{s:02d}Z WARN  {svc} retrying request to {upstream} attempt={n} backoff={dur}ms",
    "2026-11-20 10:{m:02d}:{s:02d} [INFO] kafka.consumer group={svc}-group partition={n} offset={size} lag={a}",
)
_SERVICES = ("api-gw", "auth-svc", "billing", "search", "orders", "mailer", "ingest", "catalog", "payments", "notifier")
_RESOURCES = ("orders", "users", "invoices", "products", "sessions", "carts", "reports", "refunds", "shipments")
_NAMESPACES = ("default", "shop", "payments", "platform", "monitoring")
_STAGES = ("build", "test", "lint", "package", "deploy")


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def typical_lines(n: int, *, seed: int = 7, sensitive_share: float = 0.1) -> list[str]:
    rng = random.Random(seed)
    sensitive = templates("log_templates.txt")
    out = []
    for _ in range(n):
        if rng.random() < sensitive_share:
            out.append(render(rng.choice(sensitive), rng)[0])
            continue
        svc, res = rng.choice(_SERVICES), rng.choice(_RESOURCES)
        # A fleet's internal addresses are few; clients are many.
        upstream = f"10.20.{rng.randint(0, 3)}.{rng.randint(1, 12)}"
        out.append(rng.choice(_ROUTINE).format(
            ip=f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            m=rng.randint(0, 59), s=rng.randint(0, 59), ms=rng.randint(0, 999), us=rng.randint(0, 999_999),
            ns=rng.randint(0, 999_999_999), res=res, Res=res.capitalize(), id=rng.randint(1, 99999),
            status=rng.choice((200, 200, 200, 201, 204, 304, 404, 500)), size=rng.randint(100, 99999),
            size2=rng.randint(100, 99999), svc=svc, dur=rng.randint(1, 2500), dur2=rng.randint(1, 2500),
            n=rng.randint(1, 64), pid=rng.randint(100, 65000), port=rng.randint(1024, 65535),
            sec=rng.randint(1000, 999_999), epoch=1_795_000_000 + rng.randint(0, 86_400), a=rng.randint(1, 900),
            b=rng.randint(1, 900), c=rng.randint(1000, 4096), hex12=_hex(rng, 12), hex32=_hex(rng, 32),
            uuid=f"{_hex(rng, 8)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 12)}",
            kns=rng.choice(_NAMESPACES), pod=f"{svc}-{_hex(rng, 10)}-{_hex(rng, 5)}", stage=rng.choice(_STAGES),
            upstream=upstream))
    return out
