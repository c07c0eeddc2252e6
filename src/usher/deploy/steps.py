"""The steps that prepare a release on an app host, before anything the site serves changes.

Each function returns one `Step` whose scripts are idempotent: run twice, they leave the host as
running once does (folders with `mkdir -p`, the release extracted only when missing, the secret
written only once, a venv built only when absent).
"""

from __future__ import annotations

from usher.deploy.config import DeployConfig
from usher.deploy.layout import Layout
from usher.deploy.plan import Command, Step, quote
from usher.deploy.templates import OVERLAY_MODULE, app_env_pairs, env_text, settings_overlay

# Exit status of the source script when the commit is not on the remote, so the message is its own.
NOT_PUSHED = 3


def write_file(
    path: str, text: str, mode: str, *, secret: bool = False, once: bool = False
) -> Command:
    """Write `text` (sent on stdin) to `path` atomically; with `once`, keep a file already there."""
    target = quote(path)
    write = f"cat > {target}.tmp && chmod {mode} {target}.tmp && mv -f {target}.tmp {target}"
    if once:
        write = f"if [ -s {target} ]; then cat > /dev/null; else {write}; fi; chmod {mode} {target}"
    # umask 077 first: a secret is never readable by others, not even between cat and chmod.
    return Command(f"umask 077\nmkdir -p {quote(path.rpartition('/')[0])}\n{write}", text, secret)


def folders(layout: Layout) -> Step:
    """The site's folders; shared/env is private to the deploy user."""
    dirs = " ".join(
        quote(path)
        for path in (
            layout.releases,
            f"{layout.shared}/media",
            f"{layout.shared}/static",
            f"{layout.shared}/db",
            layout.env_dir,
            layout.pip_cache,
            layout.run_dir,
            f"{layout.root}/log",
        )
    )
    script = f"set -eu\nmkdir -p {dirs}\nchmod 700 {quote(layout.env_dir)}"
    return Step(
        "folders",
        "create releases/, shared/{media,static,db,env}, cache/, run/, log/",
        (Command(script),),
    )


def source(config: DeployConfig, layout: Layout, commit: str) -> Step:
    """Fetch the repository into repo.git, refuse a commit the remote lacks, extract the release."""
    repo, url, release = quote(layout.repo), quote(config.repo), quote(layout.release)
    branch = quote(f"refs/heads/{config.branch}")
    missing = (
        f"commit {commit[:12]} is not on {config.repo}: push it first "
        f"(git push origin {config.branch}), or deploy a pushed commit"
    )
    off_branch = f"commit {commit[:12]} is on {config.repo} but not on branch {config.branch}: push it to {config.branch} or set branch in [deploy]"
    script = f"""set -eu
[ -d {repo} ] || git clone --quiet --bare {url} {repo}
git --git-dir={repo} fetch --quiet --force --prune {url} '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
if ! git --git-dir={repo} cat-file -e {commit}^{{commit}} 2>/dev/null; then
  echo {quote(missing)} >&2; exit {NOT_PUSHED}
fi
if ! git --git-dir={repo} merge-base --is-ancestor {commit} {branch} 2>/dev/null; then
  echo {quote(off_branch)} >&2; exit {NOT_PUSHED}
fi
if [ ! -d {release} ]; then
  rm -rf {release}.tmp && mkdir -p {release}.tmp
  git --git-dir={repo} archive {commit} | tar -x -C {release}.tmp
  mv {release}.tmp {release}
fi"""
    return Step(
        "source",
        f"fetch {config.repo} into repo.git, extract {commit[:12]} into the release",
        (Command(script),),
    )


# Run by the host's python when the release venv should also see that python's packages (the
# tests' interpreter already has Django and usher): `--system-site-packages` alone would skip
# them when `python` is itself a venv's interpreter.
_INHERIT = """import pathlib, site, sys
target = next(pathlib.Path(sys.argv[1]).glob("lib/python*/site-packages"))
lines = "".join(f"import site; site.addsitedir({path!r})\\n" for path in site.getsitepackages())
(target / "_usher_inherit.pth").write_text(lines)
"""


def venv(config: DeployConfig, layout: Layout) -> Step:
    """The release's own virtualenv; with venv_system_site_packages it sees `python`'s packages."""
    venv_dir = quote(f"{layout.release}/venv")
    python = quote(config.python)
    create = f"{python} -m venv {venv_dir}"
    inherit = ""
    if config.venv_system_site_packages:
        # No ensurepip: pip comes with the inherited packages, and this saves seconds per release.
        create = f"{python} -m venv --system-site-packages --without-pip {venv_dir}"
        inherit = f"\n{python} - {venv_dir} <<'PYTHON'\n{_INHERIT}PYTHON"
    script = f"set -eu\n[ -x {venv_dir}/bin/python ] || {create}{inherit}"
    return Step("venv", f"create the release's virtualenv with {config.python}", (Command(script),))


def requirements(config: DeployConfig, layout: Layout) -> Step:
    """pip install the requirements (and usher_requirement when the venv lacks usher), through
    the wheel cache. usher is never installed by bare name: on PyPI that name is another project's.
    """
    python = quote(f"{layout.release}/venv/bin/python")
    wanted = quote(f"{layout.release}/{config.requirements}")
    no_usher = (
        "the release venv cannot import usher: list it in the requirements, "
        "set usher_requirement in [deploy] (a wheel, a git URL), or set venv_system_site_packages"
    )
    install_usher = f"echo {quote(no_usher)} >&2; exit 1"
    if config.usher_requirement:
        install_usher = f"{python} -m pip install --quiet {quote(config.usher_requirement)}"
    # From the release folder: pip reads relative paths in a requirements file (./wheels/x.whl)
    # from the working directory, and users write them from the repository's root.
    script = f"""set -eu
cd {quote(layout.release)}
export PIP_CACHE_DIR={quote(layout.pip_cache)} PIP_DISABLE_PIP_VERSION_CHECK=1
if [ -f {wanted} ] && grep -qv '^[[:space:]]*\\(#\\|$\\)' {wanted}; then
  {python} -m pip install --quiet -r {wanted}
fi
if ! {python} -c 'import usher' 2>/dev/null; then
  {install_usher}
fi"""
    return Step(
        "packages",
        f"pip install -r {config.requirements} (wheel cache in cache/pip)",
        (Command(script),),
        hint="fix the requirements file or the package index the host uses",
        long=True,
    )


def settings(config: DeployConfig, layout: Layout, secret_key: str, extra_env: str) -> Step:
    """The env files (secret.env once, app.env each deploy, both 0600) and the settings overlay."""
    commands = [
        write_file(
            layout.secret_env, env_text([("SECRET_KEY", secret_key)]), "600", secret=True, once=True
        ),
        write_file(
            layout.app_env,
            env_text(app_env_pairs(config)) + extra_env,
            "600",
            secret=bool(extra_env),
        ),
    ]
    if config.framework == "django":
        overlay = f"{layout.release}/{config.project_dir}/{OVERLAY_MODULE}.py"
        commands.append(write_file(overlay, settings_overlay(config, layout), "644"))
    return Step(
        "settings",
        "env files in shared/env (0600, SECRET_KEY kept), hardened settings overlay",
        tuple(commands),
    )


def manage(config: DeployConfig, layout: Layout, arguments: str) -> str:
    """A script running `manage.py ARGUMENTS` in the release with the env files loaded."""
    return f"""set -eu
cd {quote(f"{layout.release}/{config.project_dir}")}
set -a; . {quote(layout.secret_env)}; . {quote(layout.app_env)}; set +a
{quote(f"{layout.release}/venv/bin/python")} manage.py {arguments} 2>&1"""


def check_deploy(config: DeployConfig, layout: Layout) -> Step:
    """Django's deployment checklist as a gate: any warning stops the deploy before the switch."""
    script = manage(config, layout, "check --deploy --fail-level WARNING")
    return Step(
        "check",
        "manage.py check --deploy --fail-level WARNING (a gate)",
        (Command(script),),
        hint="fix these in the project's settings, set https = true, or list the accepted ids in silence = ... in [deploy]",
        report=True,
    )


def collectstatic(config: DeployConfig, layout: Layout) -> Step:
    """Static files into shared/static, served by nginx."""
    script = manage(config, layout, "collectstatic --noinput")
    return Step(
        "static",
        "manage.py collectstatic into shared/static",
        (Command(script),),
        report=True,
        long=True,
    )


def migrate(config: DeployConfig, layout: Layout) -> Step:
    """Database migrations, before the new code serves."""
    script = manage(config, layout, "migrate --noinput")
    return Step(
        "migrate",
        "manage.py migrate (SQLite files live in shared/db)",
        (Command(script),),
        report=True,
        long=True,
    )
