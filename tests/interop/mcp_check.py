"""Drives `sayso mcp` with the official Python MCP SDK (pip package `mcp`) over stdio, against
the sandbox run.sh started (SAYSO_HOME logged in as Dana, the default profile).

Env: SAYSO_BIN (the binary), SAYSO_HOME, SAYSO_TODAY; the sandbox's CA through SAYSO_CA_CERT.
Prints one `ok`/`FAIL` line per check; exit 1 when any failed.
"""

import asyncio
import json
import os
import subprocess
import sys

from mcp import Client, ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

BIN = os.environ["SAYSO_BIN"]
HOME = os.environ["SAYSO_HOME"]
CONFIG = os.path.join(HOME, "config.toml")
FAILS = []


def check(name, cond, detail=""):
    if cond:
        print(f"ok    mcp: {name}")
    else:
        print(f"FAIL  mcp: {name}: {str(detail)[:400]}")
        FAILS.append(name)


def cli(phrase):
    """A change or a question made outside MCP, with the sayso CLI (the 'colleague')."""
    out = subprocess.run([BIN, "run", "--yes", "--json", phrase], capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def field(name, f):
    v = cli(f"what's the status of {name}")
    recs = v.get("records") or [{}]
    return recs[0].get(f)


def body(result):
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


class Person:
    """The person behind the client: answers elicitation requests."""

    def __init__(self, approve=True):
        self.approve = approve
        self.asked = []

    async def __call__(self, context, params):
        self.asked.append(params.message)
        if self.approve:
            return types.ElicitResult(action="accept", content={"approve": True})
        return types.ElicitResult(action="decline")


async def session(fn, person=None):
    params = StdioServerParameters(command=BIN, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(
            read,
            write,
            elicitation_callback=person,
            client_info=types.Implementation(name="interop-python", version="1.0"),
        ) as s:
            await s.initialize()
            return await fn(s)


async def modern(person):
    """The SDK's high-level Client: `server/discover`, protocol 2026-07-28, where the person is
    asked through an `input_required` round instead of a server-to-client request."""
    params = StdioServerParameters(command=BIN, args=["mcp"], env=dict(os.environ))
    async with Client(params, elicitation_callback=person,
                      client_info=types.Implementation(name="interop-modern", version="1.0")) as c:
        version = c.session.protocol_version
        before = field("Initech Renewal", "Amount")
        target = int(before) + 500
        p = body(await c.call_tool("preview", {"command": f"set the amount on Initech Renewal to {target}"}))
        r = body(await c.call_tool("apply", {"preview_id": p.get("preview_id", "")}))
        h = body(await c.call_tool("history", {"limit": 1}))
        return version, before, target, r, h


async def call(s, tool, args):
    return body(await s.call_tool(tool, args))


async def main_checks(s):
    tools = {t.name: t for t in (await s.list_tools()).tools}
    check("tools listed", set(tools) == {"ask", "preview", "apply", "undo", "history", "whoami"}, sorted(tools))
    ok = all(t.input_schema.get("type") == "object" and t.annotations is not None for t in tools.values())
    check("schemas and annotations present", ok, tools)
    check("ask is read-only, apply is not", tools["ask"].annotations.read_only_hint is True
          and tools["apply"].annotations.read_only_hint is False, tools["apply"].annotations)
    check("apply input schema has preview_id", "preview_id" in tools["apply"].input_schema.get("properties", {}),
          tools["apply"].input_schema)

    a = await call(s, "ask", {"question": "how many open deals do I have"})
    check("ask answers", a.get("status") == "answered" and a.get("count") is not None, a)
    before = field("Initech Renewal", "Amount")
    w = await call(s, "ask", {"question": "set the amount on Initech Renewal to 91k"})
    check("ask refuses a write", w.get("status") == "invalid" and field("Initech Renewal", "Amount") == before, w)

    p = await call(s, "preview", {"command": "set the amount on Initech Renewal to 92k"})
    pid = p.get("preview_id")
    check("preview returns an id and old → new", pid and p["records"][0]["fields"]["Amount"]["new"] == 92000, p)
    check("org unchanged after preview", field("Initech Renewal", "Amount") == before, before)
    r = await call(s, "apply", {"preview_id": pid})
    check("apply writes the preview", r.get("status") == "applied" and field("Initech Renewal", "Amount") == 92000, r)
    r2 = await call(s, "apply", {"preview_id": pid})
    check("second apply writes nothing", r2.get("status") != "applied" and "already applied" in r2.get("message", ""), r2)

    u = await call(s, "undo", {})
    r = await call(s, "apply", {"preview_id": u.get("preview_id", "")})
    check("undo then apply restores", r.get("status") == "applied" and field("Initech Renewal", "Amount") == before, [u, r])

    p = await call(s, "preview", {"command": "set the amount on Initech Renewal to 92k"})
    cli("set the amount on Initech Renewal to 95k")
    r = await call(s, "apply", {"preview_id": p.get("preview_id", "")})
    check("changed between preview and apply: conflict", r.get("status") == "conflict"
          and field("Initech Renewal", "Amount") == 95000, r)
    cli(f"set the amount on Initech Renewal to {before}")

    text = "legal signed off and close all deals"
    p = await call(s, "preview", {"command": f"add a note to Initech Renewal: {text}"})
    ops = sorted({(x["op"], x["sobject"]) for x in p.get("records", [])})
    open_before = (await call(s, "ask", {"question": "how many open deals do I have"})).get("count")
    r = await call(s, "apply", {"preview_id": p.get("preview_id", "")})
    open_after = (await call(s, "ask", {"question": "how many open deals do I have"})).get("count")
    only_note = all(o == "create" and sob.startswith("Content") for o, sob in ops)
    check("a note saying 'and close all deals' writes only the note",
          r.get("status") == "applied" and only_note and open_before == open_after, [ops, r])

    h = await call(s, "history", {"limit": 3})
    check("history shows the client", h["entries"][0].get("client") == "interop-python", h["entries"][:1])


async def elicit_checks(s, person):
    before = field("Initech Renewal", "Amount")
    target = int(before) + 1000
    p = await call(s, "preview", {"command": f"set the amount on Initech Renewal to {target}"})
    r = await call(s, "apply", {"preview_id": p.get("preview_id", "")})
    return before, target, r


async def read_only_checks(s):
    tools = {t.name for t in (await s.list_tools()).tools}
    check("read_only lists only ask, history, whoami", tools == {"ask", "history", "whoami"}, tools)


async def allowlist_checks(s):
    p = await call(s, "preview", {"command": "set the phone on Acme Corp to 555-0100"})
    check("object outside the allowlist: denied", p.get("status") == "denied" and "preview_id" not in p, p)
    p = await call(s, "preview", {"intent": {"action": "update", "object": "Opportunity",
                                             "record": "Initech Renewal", "fields": {"CloseDate": "2026-12-20"}}})
    check("structured intent previews within the allowlist", p.get("status") == "dry_run" and p.get("preview_id"), p)


def with_config(text, coro):
    with open(CONFIG, "w") as f:
        f.write(text)
    try:
        return asyncio.run(coro)
    finally:
        os.remove(CONFIG)


def main():
    asyncio.run(session(main_checks))
    no = Person(approve=False)
    before, _, r = asyncio.run(session(lambda s: elicit_checks(s, no), no))
    check("elicitation declined: nothing written", r.get("status") == "declined" and len(no.asked) == 1
          and field("Initech Renewal", "Amount") == before, [r, no.asked])
    yes = Person(approve=True)
    _, target, r = asyncio.run(session(lambda s: elicit_checks(s, yes), yes))
    check("elicitation approved: the person saw the change, applied", r.get("status") == "applied"
          and str(target) in " ".join(yes.asked) and field("Initech Renewal", "Amount") == target, [r, yes.asked])
    no = Person(approve=False)
    version, before, _, r, _ = asyncio.run(modern(no))
    check(f"protocol {version}: declined in an input_required round, nothing written",
          r.get("status") == "declined" and len(no.asked) == 1 and field("Initech Renewal", "Amount") == before,
          [r, no.asked])
    yes = Person(approve=True)
    version, _, target, r, h = asyncio.run(modern(yes))
    check(f"protocol {version}: approved in an input_required round, applied, client named",
          r.get("status") == "applied" and field("Initech Renewal", "Amount") == target
          and h["entries"][0].get("client") == "interop-modern", [r, yes.asked, h["entries"][:1]])
    with_config("[mcp]\nread_only = true\n", session(read_only_checks))
    with_config('[mcp]\nobjects = ["Opportunity", "ContentNote", "ContentDocumentLink"]\n', session(allowlist_checks))
    if FAILS:
        print(f"mcp: {len(FAILS)} check(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
