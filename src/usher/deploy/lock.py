"""The deploy lock: a folder made with `mkdir` (atomic on every filesystem) holding a `holder`
file that says who deploys and since when. A second deploy finds the folder and is refused."""

from __future__ import annotations

from usher.deploy.errors import DeployError
from usher.deploy.executor import Runner
from usher.deploy.layout import Layout
from usher.deploy.plan import quote

# Exit status of the lock script when the lock is held by someone else.
LOCKED = 75


def acquire_script(layout: Layout, force: bool) -> str:
    """Take the lock (the holder line comes on stdin); `force` first removes a stale one."""
    lock = quote(layout.lock)
    unlock = ""
    if force:
        unlock = (
            f'if [ -d {lock} ]; then echo "removed the lock of '
            f'$(cat {lock}/holder 2>/dev/null || echo an unknown deploy)" >&2; rm -rf {lock}; fi\n'
        )
    return f"""mkdir -p {quote(layout.root)}
{unlock}if mkdir {lock} 2>/dev/null; then
  cat > {lock}/holder
else
  cat > /dev/null; cat {lock}/holder 2>/dev/null || echo "an unknown deploy"; exit {LOCKED}
fi"""


async def acquire(label: str, runner: Runner, layout: Layout, holder: str, force: bool) -> str:
    """Take the lock on one host or raise a DeployError naming who holds it; returns what a
    forced unlock removed (empty when nothing)."""
    result = await runner.run(acquire_script(layout, force), holder + "\n")
    if result.status == LOCKED:
        raise DeployError(
            f"{label}: {layout.root} is locked by {result.stdout.strip() or 'an unknown deploy'}; "
            "wait for that deploy to finish, or pass --force-unlock if it died"
        )
    if result.status != 0:
        raise DeployError(
            f"{label}: cannot take the deploy lock: {result.stderr.strip()}; check that {layout.root} is writable"
        )
    return result.stderr.strip()


async def release(runner: Runner, layout: Layout) -> None:
    """Drop the lock taken by `acquire`."""
    await runner.run(f"rm -rf {quote(layout.lock)}")
