"""What the planner needs to know about a host, read by one read-only script (the probe)."""

from __future__ import annotations

from dataclasses import dataclass

from usher.deploy.layout import Layout
from usher.deploy.plan import quote


@dataclass(frozen=True, slots=True)
class HostFacts:
    """A host's state: is systemd running, which releases exist, which is current, who locks it."""

    systemd: bool
    current: str | None
    releases: tuple[str, ...]
    lock_holder: str | None = None
    # Seconds each step took in the last successful deploy here: (step, seconds) pairs.
    timings: tuple[tuple[str, float], ...] = ()

    def previous_release(self) -> str | None:
        """The newest release older than the current one (what rollback goes back to)."""
        older = [name for name in self.releases if self.current is None or name < self.current]
        return max(older, default=None)

    def expected(self, step: str) -> float:
        """What `step` took in the last successful deploy to this host; 0 when unknown."""
        return dict(self.timings).get(step, 0.0)


def probe_script(layout: Layout) -> str:
    """Print `key=value` lines; changes nothing (`--dry-run` runs it too)."""
    root = quote(layout.root)
    return f"""[ -d /run/systemd/system ] && echo systemd=yes || echo systemd=no
echo "current=$(basename "$(readlink {root}/current 2>/dev/null)" 2>/dev/null)"
echo "releases=$(ls -1 {root}/releases 2>/dev/null | grep -v '\\.tmp$' | tr '\\n' ' ')"
echo "lock=$(cat {root}/.deploy-lock/holder 2>/dev/null || true)"
echo "timings=$(cat {quote(layout.timings)} 2>/dev/null | tr '\n' ' ')"
true"""


def parse_facts(output: str) -> HostFacts:
    """The facts from the probe's output."""
    values = dict(line.partition("=")[::2] for line in output.splitlines() if "=" in line)
    current = values.get("current", "").strip()
    return HostFacts(
        systemd=values.get("systemd") == "yes",
        current=current if current and current != "." else None,
        releases=tuple(sorted(values.get("releases", "").split())),
        lock_holder=values.get("lock", "").strip() or None,
        timings=_timings(values.get("timings", "")),
    )


def _timings(text: str) -> tuple[tuple[str, float], ...]:
    # `step:seconds` words; a damaged file only costs the bars their yardstick.
    pairs = []
    for word in text.split():
        name, _, seconds = word.partition(":")
        try:
            pairs.append((name, float(seconds)))
        except ValueError:
            continue
    return tuple(pairs)
