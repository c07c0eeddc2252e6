"""The data half of `uwsgi_names`: every uWSGI 2.0 option usher does not store, by group.

Each group is (status, note, names): names are separated by spaces, and `a|b` makes `b` another
spelling of `a` (a single letter is uWSGI's short flag). Notes are one line with no final stop;
for "unsupported" they name what to use instead. Names come from uWSGI's option arrays; the
notes are usher's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Status = Literal["reader", "accepted", "unsupported"]

# Values with which an option usher does not support asks for what usher does anyway: with
# them the option is accepted (so `strict` does not refuse the config), with any other value not.
ACCEPTED_VALUES: Mapping[tuple[str, str], str] = {
    ("hook-master-start", "unix_signal:15 gracefully_kill_them_all"): (
        "usher's master already stops gracefully on SIGTERM"
    ),
    ("hook-master-start", "unix_signal:2 gracefully_kill_them_all"): (
        "usher's master already stops gracefully on SIGINT"
    ),
}

_PLUGINS = "usher has Python support built in and no plugins to load"
_PROXY = "put nginx, HAProxy or a load balancer in front of usher"
_TLS = "terminate TLS in nginx, HAProxy or the load balancer in front of usher"
_SYSTEMD_HOOK = (
    "run setup steps from the service manager (systemd ExecStartPre=, a container entrypoint)"
)
_SANDBOX = "use systemd's sandboxing options or a container"
_STATIC = "use static-map, static-map2 or check-static (usher caches resolved paths itself)"
_ROUTE = "route, rewrite and redirect in nginx or in the app"
_HEADERS = "set response headers in the app (middleware) or in nginx"
_QUEUE = "run background jobs with Celery or RQ"
_CACHE = "use Django's cache framework, Redis or memcached"
_ASYNC = "use threads (threads = N) or an ASGI server for asynchronous code"
_METRICS = "scrape usher's stats-prometheus endpoint with Prometheus"
_LOGGER = "usher logs to stderr, logto or daemonize; ship that stream with journald or a log agent"
_TIMERS = "use a systemd timer or cron for periodic jobs"
_SIDECARS = "run other programs as their own systemd services or containers"
_LIST = "it lists uWSGI's built-in components; usher has none to list"
_BUILD = "it describes uWSGI's build; `usher --version` and `usher --help` describe usher"
_MODIFIER = "usher serves only Python WSGI apps, so there is no modifier to choose"
_NO_UWSGI_MODULE = "usher has no `uwsgi` Python module; use the standard library or a task queue"
_DISCOVERY = "use your orchestrator's service discovery or a load balancer's health checks"

GROUPS: tuple[tuple[Status, str, str], ...] = (
    (
        "unsupported",
        "set subscription_server and subscription_tolerance in usher front's [front] section "
        "(docs/front-policies.md)",
        "fastrouter-subscription-server http-subscription-server subscription-tolerance",
    ),
    (
        "reader",
        "config language: if/for blocks, read by usher's ini reader",
        "for for-glob for-times for-readline endfor|end-for if-opt if-not-opt if-env|ifenv "
        "if-not-env if-exists|ifexists if-not-exists if-file if-not-file "
        "if-dir|ifdir|if-directory if-not-dir if-hostname if-not-hostname if-hostname-match "
        "if-not-hostname-match if-plugin|ifplugin if-not-plugin if-reload if-not-reload endif|end-if",
    ),
    (
        "reader",
        "config language: placeholders, read by usher's ini reader",
        "set|S set-placeholder|set-ph",
    ),
    ("accepted", "usher's command line prints its help or version", "help|usage version"),
    # -- accepted: usher already behaves so ---------------------------------------------------
    (
        "accepted",
        _PLUGINS,
        "plugins|plugin need-plugins|need-plugin plugins-dir|plugin-dir autoload dlopen",
    ),
    ("accepted", "usher always lets the app start its own threads", "enable-threads|T"),
    ("accepted", "each usher worker always runs exactly one interpreter", "single-interpreter|i"),
    ("accepted", "usher always reports each worker's rss and vsz", "memory-report|m"),
    (
        "accepted",
        "usher has no accept lock or shared-memory locks; each connection is accepted by one worker",
        "thunder-lock locks lock-engine ftok persistent-ipcsem",
    ),
    (
        "accepted",
        "usher's cheaper mode always uses uWSGI's spare algorithm",
        "cheaper-algo cheaper-busyness-max cheaper-busyness-min cheaper-busyness-multiplier "
        "cheaper-busyness-penalty cheaper-busyness-verbose cheaper-busyness-backlog-alert "
        "cheaper-busyness-backlog-multiplier cheaper-busyness-backlog-step "
        "cheaper-busyness-backlog-nonzero",
    ),
    (
        "accepted",
        "usher's event loop sends files and bodies itself, without offload threads",
        "offload-threads|offload-thread",
    ),
    (
        "accepted",
        "usher sends wsgi.file_wrapper files with os.sendfile where it can, and reads files otherwise",
        "disable-sendfile wsgi-disable-file-wrapper",
    ),
    (
        "accepted",
        _MODIFIER,
        "http-socket-modifier1 http-socket-modifier2 https-socket-modifier1 "
        "https-socket-modifier2 fastcgi-modifier1 fastcgi-modifier2 scgi-modifier1 scgi-modifier2 "
        "raw-modifier1 raw-modifier2 http-modifier1 http-modifier2 allowed-modifiers remap-modifier "
        "subscribe-with-modifier1",
    ),
    (
        "accepted",
        "usher stops a response at the first write error and logs the gone client once",
        "write-errors-exception-only write-errors-tolerance",
    ),
    ("accepted", "usher's master always reaps its children", "reaper|r"),
    (
        "accepted",
        "usher's static files always honour Range; an app's responses are the app's to range",
        "honour-range",
    ),
    ("accepted", "usher sets TCP_NODELAY on its TCP connections", "tcp-nodelay"),
    (
        "accepted",
        "usher's HTTP listeners speak HTTP/1.1 with keep-alive, chunked bodies and 100-continue",
        "http-keepalive http-auto-chunked http-chunked-input http-manage-expect",
    ),
    (
        "accepted",
        "usher has no separate HTTP router process: its workers serve HTTP themselves",
        "http-processes|http-workers",
    ),
    (
        "accepted",
        "each usher process writes whole lines with one write (O_APPEND files, one datagram each) "
        "and the app's Python output goes through the loggers: what uWSGI's master log pipe gives",
        "log-master log-master-bufsize log-master-stream log-master-req-stream threaded-logger",
    ),
    (
        "accepted",
        "usher's WSGI environ and start_response already follow PEP 3333",
        "wsgi-env-behaviour|wsgi-env-behavior start_response-nodelay wsgi-strict "
        "wsgi-accept-buffer|wsgi-accept-buffers",
    ),
    (
        "accepted",
        "usher forks with os.fork, which runs the app's os.register_at_fork hooks",
        "py-call-osafterfork",
    ),
    ("accepted", "usher serves one app per server", "max-apps"),
    ("accepted", "usher bounds uwsgi vars by buffer-size, not by their count", "max-vars|v"),
    (
        "accepted",
        "usher reads request bodies in its own chunks and spools them past post-buffering",
        "post-buffering-bufsize body-read-warning chunked-input-limit chunked-input-timeout",
    ),
    (
        "accepted",
        "internal timing of uWSGI's master; usher's master keeps its own schedule",
        "check-interval forkbomb-delay mem-collector-freq",
    ),
    (
        "accepted",
        "usher runs no shell hooks and re-executes its own Python on reload",
        "binsh binary-path",
    ),
    ("accepted", "usher does not use PCRE", "pcre-jit"),
    ("accepted", "usher measures time with the system's monotonic clock", "clock"),
    (
        "accepted",
        "uWSGI's core dump aid on crashes; usher leaves signals at Python's defaults",
        "use-abort",
    ),
    (
        "accepted",
        "usher's stats document has one layout, always compact",
        "stats-minified|stats-min stats-no-cores stats-no-metrics",
    ),
    (
        "accepted",
        _LIST,
        "logger-list|loggers-list alarm-list|alarms-list cheaper-algo-list|cheaper-algos-list "
        "cheaper-list router-list|routers-list loop-list|loops-list "
        "imperial-monitor-list|imperial-monitors-list clock-list|clocks-list plugins-list|plugin-list",
    ),
    ("accepted", "usher has no gateway processes to force", "force-gateway"),
    ("accepted", "usher leaves stdin as it found it unless it daemonizes", "honour-stdin"),
    ("accepted", "usher does not inspect file descriptor 0", "skip-zero"),
    # -- not supported: what to use instead ---------------------------------------------------
    (
        "unsupported",
        _QUEUE,
        "spooler|Q spooler-external spooler-ordered spooler-chdir "
        "spooler-processes spooler-quiet spooler-max-tasks spooler-harakiri spooler-frequency|spooler-freq "
        "spooler-import|spooler-pyimport|spooler-py-import|spooler-python-import touch-spoolers-reload",
    ),
    (
        "unsupported",
        _QUEUE,
        "mule mules farm mule-msg-size mule-harakiri mule-reload-mercy "
        "touch-mules-reload hook-as-mule",
    ),
    (
        "unsupported",
        _CACHE,
        "cache cache2 cache-blocksize cache-store cache-store-sync cache-no-expire "
        "cache-expire-freq cache-report-freed-items cache-udp-server cache-udp-node cache-sync "
        "cache-use-last-modified add-cache-item load-file-in-cache load-file-in-cache-gzip check-cache "
        "queue queue-blocksize queue-store queue-store-sync sharedarea|A py-sharedarea "
        "ssl-sessions-use-cache ssl-session-use-cache",
    ),
    (
        "unsupported",
        _ASYNC,
        "gevent gevent-monkey-patch gevent-early-monkey-patch gevent-wait-for-hub "
        "ugreen ugreen-stacksize async loop",
    ),
    (
        "unsupported",
        _METRICS,
        "carbon carbon-timeout carbon-freq carbon-id carbon-no-workers "
        "carbon-max-retry carbon-retry-delay carbon-root carbon-hostname-dots "
        "carbon-name-resolve|carbon-resolve-names carbon-idle-avg carbon-use-metrics "
        "stats-push stats-pusher-default-freq|stats-pushers-default-freq rrdtool rrdtool-freq "
        "rrdtool-lib nagios snmp snmp-community udp enable-metrics metric metric-threshold "
        "metric-alarm alarm-metric metrics-dir|metric-dir metrics-dir-restore|metric-dir-restore "
        "metrics-no-cores",
    ),
    (
        "unsupported",
        "usher's emperor runs the vassals of a folder or glob of config files (docs/emperor.md)",
        "emperor-proxy-socket emperor-wrapper "
        "emperor-wrapper-override emperor-wrapper-fallback emperor-nofollow emperor-procname "
        "emperor-required-heartbeat emperor-curse-tolerance emperor-pidfile "
        "emperor-tyrant-nofollow early-emperor "
        "emperor-broodlord emperor-throttle emperor-max-throttle emperor-magic-exec "
        "emperor-on-demand-exec "
        "emperor-extra-extension|emperor-extra-ext emperor-no-blacklist emperor-use-clone "
        "emperor-graceful-shutdown emperor-cap|vassals-cap|vassal-cap vassals-inherit vassals-inherit-before "
        "vassals-include-before vassals-start-hook vassals-stop-hook vassal-sos vassal-sos-backlog "
        "heartbeat blacklist end-blacklist whitelist end-whitelist "
        "hook-emperor-start hook-emperor-stop hook-emperor-reload hook-emperor-lost hook-as-vassal "
        "hook-as-emperor exec-as-vassal exec-as-emperor mount-as-vassal mount-as-emperor "
        "umount-as-vassal umount-as-emperor call-as-vassal call-as-vassal1 call-as-vassal3 "
        "call-as-emperor call-as-emperor1 call-as-emperor2 call-as-emperor4",
    ),
    (
        "unsupported",
        _PROXY,
        "fastrouter fastrouter-processes|fastrouter-workers fastrouter-zerg "
        "fastrouter-use-cache fastrouter-use-pattern fastrouter-use-base fastrouter-fallback "
        "fastrouter-use-code-string fastrouter-use-socket fastrouter-to fastrouter-gracetime "
        "fastrouter-events fastrouter-quiet fastrouter-cheap "
        "fastrouter-subscription-slot fastrouter-timeout fastrouter-post-buffering "
        "fastrouter-post-buffering-dir fastrouter-stats|fastrouter-stats-server|fastrouter-ss "
        "fastrouter-harakiri fastrouter-uid fastrouter-gid fastrouter-resubscribe "
        "fastrouter-resubscribe-bind fastrouter-buffer-size fastrouter-fallback-on-no-key "
        "fastrouter-subscription-fallback-key",
    ),
    (
        "unsupported",
        _PROXY,
        "rawrouter rawrouter-processes|rawrouter-workers rawrouter-zerg "
        "rawrouter-use-cache rawrouter-use-pattern rawrouter-use-base rawrouter-fallback "
        "rawrouter-use-code-string rawrouter-use-socket rawrouter-to rawrouter-gracetime "
        "rawrouter-events rawrouter-max-retries rawrouter-quiet rawrouter-cheap "
        "rawrouter-subscription-server rawrouter-subscription-slot rawrouter-timeout "
        "rawrouter-stats|rawrouter-stats-server|rawrouter-ss rawrouter-harakiri rawrouter-xclient "
        "rawrouter-buffer-size zerg zerg-fallback zerg-server zergpool|zerg-pool",
    ),
    (
        "unsupported",
        _PROXY,
        "http-var http-to http-zerg http-fallback http-use-cache "
        "http-use-pattern http-use-base http-events "
        "http-subscription-fallback-key http-raw-body http-use-code-string http-use-socket "
        "http-gracetime http-quiet http-cheap http-stats|http-stats-server|http-ss http-harakiri "
        "http-stud-prefix http-uid http-gid http-resubscribe http-buffer-size "
        "http-server-name-as-http-host http-headers-timeout http-connect-timeout http-manage-source "
        "http-manage-rtsp http-auto-gzip "
        "fastcgi-socket fastcgi-nph-socket scgi-socket scgi-nph-socket raw-socket puwsgi-socket",
    ),
    (
        "unsupported",
        _TLS,
        "https https2 https-export-cert https-session-context http-to-https "
        "suwsgi-socket ssl-socket https-socket ssl-verbose ssl-verify-depth "
        "ssl-sessions-timeout|ssl-session-timeout sni sni-dir sni-dir-ciphers "
        "ssl-enable3|ssl-enable-sslv3 ssl-enable-tlsv1 ssl-option sni-regexp ssl-tmp-dir "
        "sslrouter sslrouter2 sslrouter-session-context sslrouter-processes|sslrouter-workers "
        "sslrouter-zerg sslrouter-use-cache sslrouter-use-pattern sslrouter-use-base "
        "sslrouter-fallback sslrouter-use-code-string sslrouter-use-socket sslrouter-to "
        "sslrouter-gracetime sslrouter-events sslrouter-max-retries sslrouter-quiet sslrouter-cheap "
        "sslrouter-subscription-server sslrouter-timeout "
        "sslrouter-stats|sslrouter-stats-server|sslrouter-ss sslrouter-harakiri sslrouter-sni "
        "sslrouter-buffer-size",
    ),
    (
        "unsupported",
        _DISCOVERY,
        "legion legion-mcast legion-node legion-freq legion-tolerance "
        "legion-death-on-lord-error legion-skew-tolerance legion-lord legion-unlord legion-setup "
        "legion-death legion-join legion-node-joined legion-node-left legion-quorum legion-scroll "
        "legion-scroll-max-size legion-scroll-list-max-size subscriptions-sign-check "
        "subscriptions-sign-check-tolerance subscriptions-sign-skip-uid "
        "subscriptions-credentials-check subscriptions-use-credentials subscription-algo "
        "subscription-dotsplit start-unsubscribed "
        "subscription-notify-socket multicast multicast-ttl multicast-loop auto-weight "
        "shared-socket undeferred-shared-socket map-socket notify-socket",
    ),
    (
        "unsupported",
        _STATIC,
        "check-static-docroot static-cache-paths static-cache-paths-name "
        "file-serve-mode|fileserve-mode",
    ),
    (
        "unsupported",
        _ROUTE,
        "route-label "
        "route-run final-route final-route-status final-route-host final-route-uri final-route-qs "
        "final-route-remote-addr final-route-user-agent final-route-remote-user final-route-referer "
        "final-route-label final-route-if final-route-if-not final-route-run error-route "
        "error-route-status error-route-host error-route-uri error-route-qs error-route-remote-addr "
        "error-route-user-agent error-route-remote-user error-route-referer error-route-label "
        "error-route-if error-route-if-not error-route-run response-route-remote-addr "
        "response-route-user-agent response-route-remote-user response-route-referer "
        "response-route-label response-route-run "
        "error-page-403 error-page-404 error-page-500 vhost vhost-host",
    ),
    (
        "unsupported",
        _HEADERS,
        "response-header-collect pull-header response-headers-limit",
    ),
    (
        "unsupported",
        _LOGGER,
        "log-syslog log-socket log-drain log-filter log-req-route rsyslog-packet-size "
        "rsyslog-split-messages logto2 logfile-chown logfile-chmod log-truncate",
    ),
    (
        "unsupported",
        "usher's request log line is set by log-format; it logs every request unless "
        "disable-logging",
        "log-prefix log-zero log-big log-sendfile log-ioerror",
    ),
    (
        "unsupported",
        "rotate logs with logrotate and log-reopen (or the master FIFO's l command)",
        "touch-logrotate touch-logreopen",
    ),
    (
        "unsupported",
        "alert from your log shipper or from Prometheus alerting rules",
        "alarm "
        "alarm-cheap alarm-freq alarm-fd alarm-segfault|segfault-alarm "
        "alarm-backlog|backlog-alarm|lq-alarm|alarm-lq|alarm-listen-queue|listen-queue-alarm "
        "log-alarm|alarm-log not-log-alarm|not-alarm-log alarm-msg-size",
    ),
    (
        "unsupported",
        _SYSTEMD_HOOK,
        "hook-asap hook-pre-jail hook-post-jail hook-in-jail "
        "hook-as-root hook-as-user hook-as-user-atexit hook-post-fork "
        "hook-accepting hook-accepting1 hook-accepting-once hook-master-start "
        "hook-touch hook-as-gateway after-request-hook after-request-call exec-asap exec-pre-jail "
        "exec-post-jail exec-in-jail exec-as-root exec-as-user exec-as-user-atexit exec-pre-app "
        "exec-post-app call-asap call-pre-jail call-post-jail call-in-jail call-as-root call-as-user "
        "call-as-user-atexit call-pre-app call-post-app mount-asap mount-pre-jail mount-post-jail "
        "mount-in-jail mount-as-root umount-asap umount-pre-jail umount-post-jail umount-in-jail "
        "umount-as-root file-write",
    ),
    (
        "unsupported",
        "order startup with systemd After=/Requires= or a container health check",
        "wait-for-interface|wait-interface|wait-for-iface|wait-iface "
        "wait-for-interface-timeout|wait-interface-timeout|wait-for-iface-timeout|wait-iface-timeout "
        "wait-for-fs wait-for-file wait-for-dir wait-for-mountpoint wait-for-fs-timeout "
        "wait-for-socket wait-for-socket-timeout",
    ),
    (
        "unsupported",
        _SANDBOX,
        "chroot pivot-root|pivot_root unshare unshare2 setns-socket "
        "setns-socket-skip setns-skip setns setns-preopen jailed refork|re-fork "
        "refork-as-root|re-fork-as-root refork-post-jail|re-fork-post-jail cgroup cgroup-opt "
        "cgroup-dir-mode namespace|ns namespace-keep-mount namespace-net|ns-net "
        "check-mountpoint|mountpoint-check|check-mount|mount-check limit-nproc never-swap ksm "
        "prio cpu-affinity",
    ),
    (
        "unsupported",
        "usher sets uid and gid after binding; set groups and capabilities in the service manager",
        "add-gid immediate-uid immediate-gid no-initgroups master-as-root cap "
        "drop-after-init drop-after-apps",
    ),
    (
        "unsupported",
        _TIMERS,
        "cron2 cron-harakiri signal-timer|timer signal-rbtimer|rbtimer",
    ),
    (
        "unsupported",
        _SIDECARS,
        "attach-control-daemon smart-attach-daemon2 daemons-honour-stdin worker-exec worker-exec2",
    ),
    (
        "unsupported",
        _NO_UWSGI_MODULE,
        "signal signal-bufsize|signals-bufsize rpc-max symcall "
        "symcall-use-next symcall-register-rpc symcall-post-fork py-call-uwsgi-fork-hooks "
        "upload-progress",
    ),
    (
        "unsupported",
        "reload with touch-reload, SIGHUP or the master FIFO",
        "touch-workers-reload "
        "touch-exec touch-signal fs-reload fs-brutal-reload fs-signal propagate-touch reload-on-fd "
        "brutal-reload-on-fd exit-on-reload reload-os-env",
    ),
    (
        "unsupported",
        "recycle workers with reload-on-rss, evil-reload-on-rss or limit-as",
        "evil-reload-on-as",
    ),
    (
        "unsupported",
        "usher's harakiri kills at the deadline, logs the stack and answers 504",
        "harakiri-graceful-signal harakiri-queue-threshold "
        "harakiri-no-arh|no-harakiri-arh|no-harakiri-after-req-hook backtrace-depth",
    ),
    (
        "unsupported",
        "usher logs the app's exception and answers 500; handle errors in the app",
        "catch-exceptions reload-on-exception reload-on-exception-type reload-on-exception-value "
        "reload-on-exception-repr exception-handler",
    ),
    ("unsupported", "usher stops workers after worker-reload-mercy seconds", "reload-mercy"),
    (
        "unsupported",
        "usher always runs its workers; use cheaper for an adaptive count",
        "cheap cheaper-rss-limit-soft cheaper-rss-limit-hard",
    ),
    (
        "unsupported",
        "serve one app per usher and split URL prefixes in nginx",
        "worker-mount ignore-script-name",
    ),
    (
        "unsupported",
        "import modules from the app's WSGI module",
        "import|pyimport|py-import|"
        "python-import shared-import|shared-pyimport|shared-py-import|shared-python-import "
        "pymodule-alias post-pymodule-alias",
    ),
    (
        "unsupported",
        "usher loads WSGI apps from module or wsgi-file",
        "ini-paste ini-paste-logged pecan web3 pump wsgi-lite eval cgi-mode|c",
    ),
    (
        "unsupported",
        "usher's Python is the interpreter it runs on; set sys.argv and flags in the "
        "app or with PYTHONOPTIMIZE",
        "optimize|O py-programname|py-program-name "
        "py-executable|py-sys-executable no-site python-raw python-worker-override",
    ),
    (
        "unsupported",
        "run Python scripts and shells with python itself",
        "pyshell pyshell-oneshot python|py|pyrun test|J",
    ),
    (
        "unsupported",
        "restart on code changes with touch-reload fed by a file watcher (watchfiles, entr)",
        "py-auto-reload-ignore",
    ),
    (
        "unsupported",
        "use usher's harakiri stack dump, faulthandler or py-spy",
        "py-tracebacker profiler",
    ),
    (
        "accepted",
        "usher --stop PIDFILE and usher --reload PIDFILE signal the master, as uWSGI's do",
        "stop reload",
    ),
    (
        "unsupported",
        "control usher with signals on the pidfile's pid or the master FIFO",
        "pause suspend resume connect-and-read",
    ),
    (
        "unsupported",
        "set these in the service manager (systemd LimitNOFILE=, UMask=, EnvironmentFile=)",
        "envdir early-envdir unenv",
    ),
    (
        "unsupported",
        "usher binds http, http-socket and socket itself; use chmod-socket and a "
        "unix socket path or @name",
        "abstract-socket|a freebind reuse-port "
        "tcp-fast-open|tcp-fastopen tcp-fast-open-client|tcp-fastopen-client so-keepalive "
        "so-send-timeout|socket-send-timeout so-write-timeout|socket-write-timeout socket-sndbuf "
        "socket-rcvbuf shutdown-sockets close-on-exec close-on-exec2 no-fd-passing safe-fd|fd-safe "
        "no-server command-mode",
    ),
    (
        "unsupported",
        "usher writes one pidfile with pidfile",
        "pidfile2 safe-pidfile safe-pidfile2 flock flock-wait flock2 flock-wait2",
    ),
    ("unsupported", "usher detaches with daemonize", "daemonize2"),
    ("unsupported", "use chdir", "force-cwd"),
    (
        "unsupported",
        "read the app's settings from the environment or a config file of the app",
        "get declare-option declare-option2 resolve inject-before inject-after mode "
        "fallback-config",
    ),
    (
        "unsupported",
        "usher runs with the thread stack size Python picks; set threading.stack_size in the app",
        "thread-stacksize|threads-stacksize|thread-stack-size|threads-stack-size",
    ),
    (
        "unsupported",
        _BUILD,
        "dump-options binary-append-data iprint exit cflags "
        "dot-h config-py build-plugin print-sym|print-symbol python-version extract "
        "privileged-binary-patch unprivileged-binary-patch privileged-binary-patch-arg "
        "unprivileged-binary-patch-arg ping ping-timeout",
    ),
    (
        "unsupported",
        "usher lets the app's threads and atexit hooks run at exit; make them quick in the app",
        "no-threads-wait skip-atexit skip-atexit-teardown",
    ),
)
