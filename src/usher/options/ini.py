"""Read uWSGI config files (ini, and uWSGI's JSON and XML layouts) into option assignments.

Rules (docs/options.md explains them to users):

- Only one section is read: the one named in `FILE:SECTION`, else `[uwsgi]`, else `[usher]`.
- `key = value`; a key alone means "set" (true for booleans); repeated keys repeat the option.
- `ini = other.ini[:section]` loads another file right there, `ini = :section` another section
  of the same file (relative paths are from the working directory, as in uWSGI; write `%d` to
  mean "next to this file"). A file and section already being read is a loop, and an error.
- `if-*` … `endif` and `for*` … `endfor` blocks are uWSGI's config logic (see ini_logic).
- `set-placeholder = name=value` defines a placeholder; `set = key=value` reads as `key = value`.
- Keys that are not options are kept as `%(key)` variables; one never used gets a note. A uWSGI
  option usher knows only by name gets a note saying why it is ignored (see uwsgi_names).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from usher.options import catalog, config_formats, ini_logic
from usher.options.catalog import Assignment, IniRequest, OptionInfo, Refusal
from usher.options.errors import ConfigError, InvalidValue, Origin
from usher.options.expand import Expander, RawValue, magic_table
from usher.options.ini_text import IniLine, IniText, parse_ini
from usher.options.uwsgi_names import lookup_known, with_value
from usher.options.values import parse_bool

__all__ = ["IniOptions", "parse_ini", "read_ini_files", "split_spec"]

DEFAULT_SECTIONS = ("uwsgi", "usher")
# Includes nest a level or two in practice; the cap turns a runaway chain into an error.
MAX_INCLUDE_DEPTH = 16


@dataclass(frozen=True, slots=True)
class IniOptions:
    """Everything the config files said: assignments in order, the files read, notes for the
    log, and the dropped keys that `strict` refuses."""

    assignments: tuple[Assignment, ...]
    files: tuple[str, ...]
    notes: tuple[str, ...]
    refusals: tuple[Refusal, ...] = ()


def split_spec(spec: str) -> tuple[str, str | None]:
    """`app.ini:prod` -> ("app.ini", "prod"); `:prod` -> ("", "prod"); a path that exists as
    written is never split."""
    path, colon, section = spec.rpartition(":")
    if colon and section and "/" not in section and not os.path.exists(spec):
        return path, section
    return spec, None


def read_ini_files(
    requests: Sequence[IniRequest], environ: Mapping[str, str], *, allow_exec: bool = False
) -> IniOptions:
    """Load the requested files in order (and what they include) and expand their values."""
    loader = _Loader(environ, allow_exec)
    for request in requests:
        loader.load(request, None)
    return loader.finish()


def _read_text(path: str, requested_by: Origin) -> str:
    try:
        with open(path, encoding="utf-8-sig") as file:  # -sig: editors on Windows add a BOM
            return file.read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(
            requested_by,
            "ini",
            f"cannot read {path}: {reason}",
            "check the file name and its permissions",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            requested_by, "ini", f"{path} is not UTF-8 text", "save the file as UTF-8"
        ) from None


def _parse(path: str, request: IniRequest) -> IniText:
    text = _read_text(path, request.origin)
    kind = config_formats.config_format(path, request.spelled)
    try:
        if kind == "json":
            return config_formats.parse_json(text)
        if kind == "xml":
            return config_formats.parse_xml(text)
        if kind == "yaml":
            raise config_formats.refuse_yaml()
    except InvalidValue as invalid:
        raise ConfigError(
            request.origin, request.spelled, f"{path} {invalid.problem}", invalid.fix
        ) from None
    return parse_ini(text, path)


def _choose_section(text: IniText, wanted: str | None, path: str, origin: Origin) -> str:
    if wanted is not None:
        if wanted in text.sections:
            return wanted
        listed = ", ".join(f"[{name}]" for name in dict.fromkeys(text.sections)) or "none"
        raise ConfigError(
            origin,
            "ini",
            f"{path} has no [{wanted}] section",
            f"pick one of its sections: {listed}",
        )
    for name in DEFAULT_SECTIONS:
        if name in text.sections:
            return name
    raise ConfigError(
        origin,
        "ini",
        f"{path} has no [uwsgi] or [usher] section",
        "put [uwsgi] above the options, or name the section as FILE:SECTION",
    )


class _Loader:
    def __init__(self, environ: Mapping[str, str], allow_exec: bool) -> None:
        self.environ = environ
        self.expander = Expander(environ, allow_exec=allow_exec)
        self.options: list[tuple[RawValue, OptionInfo]] = []
        self.unknown: dict[str, RawValue] = {}
        self.files: list[str] = []
        self.notes: list[str] = []
        self.refusals: list[Refusal] = []
        self.reading: list[tuple[str, str]] = []  # (absolute path, section) being read
        self.first: tuple[str, str] | None = None

    def load(self, request: IniRequest, current: str | None) -> None:
        path, wanted = split_spec(request.spec)
        if not path:
            if current is None:
                raise ConfigError(
                    request.origin, "ini", f"{request.spec} names no file", "write FILE:SECTION"
                )
            path = current  # `ini = :section`: another section of the file being read
        text = _parse(path, request)
        section = _choose_section(text, wanted, path, request.origin)
        self._enter(os.path.abspath(path), section, request)
        if not self.reading[:-1]:
            self.first = (path, section)  # what the upper-case magic variables describe
        if wanted is None and section == "uwsgi" and "usher" in text.sections:
            self.notes.append(f"{path}: its [usher] section was not read; load it as {path}:usher")
        self.files.append(request.spec)
        try:
            magic = magic_table(path, section, self.first)
            self._run(self._section_lines(text, section, path), path, magic, None)
        finally:
            self.reading.pop()

    def _enter(self, absolute: str, section: str, request: IniRequest) -> None:
        if (absolute, section) in self.reading:
            raise ConfigError(
                request.origin,
                "ini",
                f"including {request.spec} again makes a loop",
                "remove the ini = line that loops back",
            )
        if len(self.reading) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(
                request.origin,
                "ini",
                f"ini files nest more than {MAX_INCLUDE_DEPTH} deep",
                "include the innermost files directly",
            )
        self.reading.append((absolute, section))

    def _section_lines(self, text: IniText, section: str, path: str) -> list[IniLine]:
        for line in text.lines:
            if line.section is None:
                origin = Origin("ini", path, line.number)
                self.notes.append(f"{origin}: {line.key} is outside any section; ignored")
        return [line for line in text.lines if line.section == section]

    def _run(
        self, lines: Sequence[IniLine], path: str, magic: Mapping[str, str], under: str | None
    ) -> None:
        """Take `lines` in order, running if/for blocks; `under` is the value of `%(_)`."""
        keys = [line.key for line in lines]
        index = 0
        while index < len(lines):
            line = lines[index]
            origin = Origin("ini", path, line.number)
            if ini_logic.block_end(line.key) is not None:
                raise ConfigError(
                    origin, line.key, "closes no block", "remove it, or add the if-/for line"
                )
            if ini_logic.block_start(line.key) is None:
                self._take(line, path, magic, under)
                index += 1
                continue
            try:
                end = ini_logic.find_end(keys, index)
                argument = self.expander.expand(self._raw(line, path, magic, under))
                items = ini_logic.iterations(line.key, argument, self.environ, self._option)
            except InvalidValue as invalid:
                raise ConfigError(origin, line.key, invalid.problem, invalid.fix) from None
            if end is None:
                self.notes.append(
                    f"{origin}: {line.key} has no end{ini_logic.block_start(line.key)}; "
                    "its block runs to the end of the section"
                )
            body = lines[index + 1 : end if end is not None else len(lines)]
            for item in items:
                self._run(body, path, magic, item)
            index = len(lines) if end is None else end + 1

    def _option(self, name: str) -> str | None:
        # uWSGI looks the key up among the keys read so far, by its exact spelling, and takes the
        # first value: what `%(name)` gives.
        raw = self.expander.variables.get(name)
        return None if raw is None else self.expander.expand(raw)

    def _raw(
        self, line: IniLine, path: str, magic: Mapping[str, str], under: str | None
    ) -> RawValue:
        text = line.value
        if text is not None and under is not None:
            text = text.replace("%(_)", under)
        return RawValue(line.key, text, Origin("ini", path, line.number), magic)

    def _take(self, line: IniLine, path: str, magic: Mapping[str, str], under: str | None) -> None:
        raw = self._raw(line, path, magic, under)
        origin = raw.origin
        if line.comment:
            self.notes.append(
                f"{origin}: text after ' {line.comment}' in {line.key} was dropped as a comment "
                "(uWSGI would keep it in the value); put comments on their own line"
            )
        if line.key in ("set", "set-placeholder", "set-ph"):
            self._set(line, raw, path, magic, under)
            return
        self.expander.define(raw)
        info = catalog.lookup(line.key)
        if info is None:
            self._not_an_option(raw)
        elif info.name == "ini":
            if raw.text is None:
                raise ConfigError(origin, line.key, "needs a file", "write ini = other.ini")
            self.load(IniRequest(self.expander.expand(raw), origin, line.key), path)
        else:
            if info.field == "allow_exec_placeholders":
                self.expander.allow_exec = raw.text is None or parse_bool(self.expander.expand(raw))
            self.options.append((raw, info))

    def _set(
        self, line: IniLine, raw: RawValue, path: str, magic: Mapping[str, str], under: str | None
    ) -> None:
        key, equals, value = (raw.text or "").partition("=")
        if not equals or not key.strip():
            raise ConfigError(
                raw.origin, line.key, "needs key=value", f"write {line.key} = name=value"
            )
        if line.key == "set":
            self._take(
                IniLine(line.number, line.section, key.strip(), value.strip(), ""),
                path,
                magic,
                None,
            )
            return
        self.expander.define(RawValue(key.strip(), value.strip(), raw.origin, magic))

    def _not_an_option(self, raw: RawValue) -> None:
        known = lookup_known(raw.key)
        if known is None:
            self.unknown.setdefault(raw.key, raw)
            return
        known = with_value(known, raw.text)
        self.notes.append(catalog.known_name_note(raw.origin, raw.key, known))
        refusal = catalog.known_name_refusal(raw.origin, raw.key, known)
        if refusal is not None:
            self.refusals.append(refusal)

    def finish(self) -> IniOptions:
        assignments = []
        for raw, info in self.options:
            literal = info.spec.literal_placeholders
            text = (
                None
                if raw.text is None
                else self.expander.expand(raw, literal_placeholders=literal)
            )
            assignments.append(Assignment(info, text, raw.origin, raw.key))
        for key, raw in self.unknown.items():
            if key in self.expander.used:
                self.refusals.append(
                    Refusal(
                        raw.origin,
                        key,
                        "is not an option, and strict allows no custom keys",
                        f"declare it with set-placeholder = {key}=...",
                    )
                )
                continue
            guess = catalog.suggest(key)
            hint = f"; did you mean {guess}?" if guess else ""
            self.notes.append(f"{raw.origin}: {key} is not an usher option, ignored{hint}")
            self.refusals.append(catalog.unknown_refusal(raw.origin, key, guess))
        return IniOptions(
            tuple(assignments),
            tuple(self.files),
            (*self.notes, *self.expander.notes),
            tuple(self.refusals),
        )
