"""The hand-written part of docs/options.md; the option tables under it are generated."""

INTRODUCTION = r"""
# Options reference

<!-- Generated from src/usher/options/settings.py and uwsgi_name_table.py
     by `python -m usher.options > docs/options.md`.
     Do not edit by hand: a test fails when this page and the option table disagree. -->

usher takes the same options as uWSGI, under the same names, from the same places. Every option
below can be given on the command line, in an ini file or in the environment.

## Where options come from

- **Command line**: `--name value`, `--name=value`, and for switches just `--name`
  (`--master`; `--master=false` turns one off). Some options have uWSGI's one-letter form:
  `-s :3031`, `-p4`, `-M`. A bare argument ending in `.ini` (`usher app.ini`) is the same as
  `--ini app.ini` (`.json` and `.xml` files too). A uWSGI option that usher knows only by name
  (listed at the end of this page) is logged and skipped, with its value if one follows; any
  other unknown flag is an error that suggests the closest option name.
- **ini files**: `--ini FILE` (repeatable) reads the `[uwsgi]` section of FILE, or `[usher]`
  if the file has no `[uwsgi]` section. `--ini FILE:SECTION` reads another section.
  An `ini = other.ini` line inside a file loads that file at that point.
- **Environment**: `USHER_<NAME>` or `UWSGI_<NAME>`, the option name upper-cased with `_` for
  `-` (`UWSGI_HTTP_SOCKET=:8000`, `USHER_PROCESSES=4`; aliases work too). When an option is set
  through any `USHER_` variable, its `UWSGI_` variables are ignored. A variable naming a uWSGI
  option that usher knows only by name is logged as in an ini file. Other unknown `UWSGI_`
  variables are ignored silently; other unknown `USHER_` variables are logged with a suggestion.
  `UWSGI_INI` / `USHER_INI` name an ini file to load.

## Precedence

From weakest to strongest: **defaults, environment, ini files (in the order given), command
line**. Command-line values win only for the options given on the command line; everything else
keeps the value from the ini files or the environment.

- An option that takes one value keeps the last value from the strongest source.
- A repeatable option (`socket`, `http-socket`, `pythonpath`, `env`...) collects every value
  from every source in that order: environment, then ini files, then the command line.

This differs from uWSGI in one case: uWSGI applies arguments strictly in the order written, so in
`uwsgi --processes 2 --ini app.ini` a `processes` line in app.ini wins. In usher the command line
wins.

## ini files

- `key = value`, one per line. A key with no `=` means "set": true for switches, and for
  `chmod-socket` the mode 666.
- Switches accept `true`/`false`, `on`/`off`, `yes`/`no`, `1`/`0` in any case, and an empty
  value (`master =`) means set, as in uWSGI; any other value is an error.
- Lines starting with `;` or `#` are comments. A key repeated for a repeatable option adds a
  value; repeated for any other option, the last line wins.
- A uWSGI option that usher knows only by name (listed at the end of this page) is logged with
  the reason it is ignored, or the alternative to use. Other keys are not errors either: they
  can be used as variables (below). One that is never used is logged, with the closest option
  name when there is one. Keys before the first section header, or in other sections, are not
  read. Lines may be indented, end in CRLF, and the file may start with a byte-order mark.

### Inline comments

`socket = 127.0.0.1:8000 # for nginx`: a `#` or `;` that follows whitespace starts a comment,
and usher drops it from the value and logs a note. uWSGI would keep the comment as part of the
value, so a config that worked by accident there gets a warning here. Put comments on their own
line. A value that must contain ` #` can come from the environment through `$(VAR)`.

### Variables and placeholders

Values are expanded in this order:

1. `$(NAME)` is replaced by the environment variable NAME (empty, with a note, if it is unset).
2. `%(key)` is replaced by the value of `key` in the loaded ini files, option or not (the first
   definition counts; placeholders in it are expanded too). A `%(key)` that names no key is left
   as written, which is what `log-format = %(addr) %(method) %(uri)` relies on.
3. Magic variables describe the file being read:

| Variable | Meaning | For `/srv/site/conf/app.ini` |
|---|---|---|
| `%d` | directory of the file, with a trailing slash | `/srv/site/conf/` |
| `%p` | absolute path of the file | `/srv/site/conf/app.ini` |
| `%s` | file name | `app.ini` |
| `%n` | file name without its extension | `app` |
| `%e` | extension, without the dot | `ini` |
| `%c` | name of the directory holding the file | `conf` |
| `%h` | host name | `web1` |
| `%k` | number of CPU cores | `8` |
| `%x` | the section being read | `uwsgi` |
| `%o` | the file's path as it was given | `conf/app.ini` |
| `%i` | the file's inode number | `1234567` |
| `%0` … `%9` | components of the file's directory | `%0` is `srv`, `%2` is `conf` |
| `%v` | the working directory usher started in | `/srv/site` |
| `%u`, `%U` | the user id and name usher runs as | `33`, `www-data` |
| `%g`, `%G` | the group id and name | `33`, `www-data` |
| `%t`, `%T` | the time in seconds and in microseconds | `1767225600` |
| `%[` | the escape character, for coloured output | |
| `%%` | a literal `%` | `%` |

The upper-case `%D`, `%P`, `%S`, `%N`, `%E`, `%C`, `%X`, `%O` and `%I` describe the file given on
the command line (or in the environment), also from inside the files it includes.

Example:

```ini
[uwsgi]
project = site
chdir = %d..
module = %(project).wsgi
socket = /run/%(project)/%n.sock
processes = %k
```

### Config logic

uWSGI's config logic works in usher's ini files (and in JSON and XML ones):

```ini
[uwsgi]
if-env = PORT
http-socket = :%(_)
endif
if-not-env = PORT
http-socket = :8000
endif
for = /srv/shared /srv/plugins
pythonpath = %(_)
endfor
```

- `if-env = VAR` holds when VAR is set, even to an empty string, as in uWSGI (`%(_)` is its
  value); `if-env = VAR=value` when it equals value. `if-opt = name` / `if-opt = name=value`
  test a key of that exact name set earlier in the config (`%(_)` is its first value, as for
  `%(name)`). `if-exists`, `if-file`, `if-dir` test a path;
  `if-hostname`, `if-hostname-match` (a regular expression) the host name; `if-plugin` holds
  for `python*`; `if-reload` never holds (usher reads its config afresh on a reload). Each has
  an `if-not-` form. Blocks end with `endif`; they may nest.
- `for = a b c`, `for-glob = PATTERN`, `for-readline = FILE` and `for-times = N` repeat the lines
  up to `endfor` once per item, with `%(_)` set to the item.
- `set-placeholder = name=value` defines a placeholder that is not an option;
  `set = key=value` is the same as `key = value`.

### More placeholders

- `ini = :base` loads the `[base]` section of the same file; `ini = other.ini:prod` the
  `[prod]` section of another file. `include`, `inherit` and `config` do the same as `ini`.
- A placeholder may name a key defined later in the file, or in a file loaded later.
- Arithmetic: `processes = %(%k * 2)`, `threads = %(base + 2)`. Operands are whole numbers,
  keys holding whole numbers, or magic variables; `+ - * /` are applied left to right, with
  spaces around each operator, as in uWSGI.
- `@(path)` is replaced by the file's text and `@(exec://command)` by the command's output.
  Both are refused unless `allow-exec-placeholders` is on (on the command line, in the
  environment, or in the config itself): a config file should not run programs by surprise.

### Values read as uWSGI reads them

- A number written as a word: `threads = true` is 1 and `false` is 0, as in uWSGI, with a
  note saying what the number means for that option.
- `buffer-size` above 65535 is capped at 65535, with a note: the uwsgi protocol cannot carry a
  larger request head.
- App factories: `module = pkg.app:create_app()` or `callable = create_app()` call the factory
  (with literal arguments only, such as `create_app("prod")`) and serve what it returns.

### JSON, XML and YAML

`--json app.json` (or a bare `app.json`, or `ini = app.json`) reads uWSGI's JSON layout,
`{"uwsgi": {"processes": 4, "env": ["A=1", "B=2"], "master": true}}`: a list repeats the key.
`--xml app.xml` reads `<uwsgi><processes>4</processes><master/></uwsgi>`; `app.xml:name` picks
`<uwsgi id="name">`. Both use Python's standard library. YAML is refused with one line: usher
does not depend on a YAML parser; convert the file to ini or JSON.

## strict

Options usher knows only by name (below) and keys that are not options are logged and skipped.
With `strict` they stop startup with one line and exit status 2 instead, as in uWSGI; custom
placeholder keys must then be declared with `set-placeholder`.

## Errors

A bad value stops startup with one line naming the option, where it was set (`app.ini:12`,
`env UWSGI_PROCESSES` or `command line`) and how to fix it, and usher exits with status 2.
Listener addresses are checked before anything is bound: `host:port`, `:port`, `[::]:port`,
`[::1]:8000`, a unix socket path (containing `/` or ending in `.sock`) or `@name` for an
abstract socket; ports go from 0 (any free port) to 65535.
"""


KNOWN_NAMES_INTRODUCTION = r"""
## uWSGI options usher knows by name

Every other option of uWSGI 2.0 is listed here. A config that sets one still starts (unless
`strict` is on): usher logs one line saying why the option is ignored or what to use instead.
A name that is in neither list is "not an usher option", with the closest name suggested.
"""
