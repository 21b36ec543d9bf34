"""The ``playbook`` command: generate sample data, validate a data source, run campaigns.

Every error the user can cause (bad config, missing data, unknown step) is printed as one
message on stderr with a non-zero exit code; there is never a bare traceback for bad input.

Examples
--------
::

    playbook generate-data --customers 20000 --seed 42 --out data/sample
    playbook validate-data data/sample
    playbook check-config campaigns/holiday-2025.yaml
    playbook run campaigns/holiday-2025.yaml
    playbook run campaigns/*.yaml --only plan segment
    playbook run campaigns/*.yaml --jobs 2
    playbook run campaigns/holiday-2025.yaml --only track --as-of 2025-12-05
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from playbook import __version__
from playbook.config.campaign import CampaignConfig
from playbook.config.loader import load_config
from playbook.config.sections import setup_problems
from playbook.data import synth
from playbook.data.cache import cache_dir, validation_report
from playbook.data.importers import PLATFORMS, ImportOptions, run_import
from playbook.data.source import DataSource
from playbook.data.template import write_template
from playbook.data.validate import validate
from playbook.data.warehouse import connect
from playbook.errors import ConfigError, DataError, PlaybookError, RunError
from playbook.media.inseason import parse_as_of
from playbook.paths import check_output_dir, resolve, resolve_arg
from playbook.report.privacy import PSEUDONYM_KEY_ENV, pseudonym_key


def _skip_iri_format_checker() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in the console script.

    jsonschema (imported by nbformat/papermill) loads ``rfc3987_syntax``, when installed, only to
    check the ``"iri"`` string format, and that import compiles 39 lark grammars: ~1.5 s of
    every ``playbook`` command. The notebook schema has no ``iri`` field, so nothing is lost;
    the ``iri`` checker is simply not registered. Only done when jsonschema is not loaded yet:
    this module calls it before importing the runner (which loads jsonschema).
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


_skip_iri_format_checker()

# The runner imports papermill -> nbformat -> jsonschema: only after the switch above.
from playbook.run.campaign import campaign_source, run_campaigns  # noqa: E402
from playbook.run.execute import KERNEL_START_TIMEOUT, use_kernel_start_timeout  # noqa: E402
from playbook.run.graph import resolve_jobs, resolve_steps  # noqa: E402
from playbook.run.results import exit_code, summary_table  # noqa: E402

#: Exit codes: 0 success, 1 failure (errors in data, a failed run), 2 usage or config error.
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _echo(msg: str) -> None:
    print(msg, flush=True)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _cmd_generate(args: argparse.Namespace) -> int:
    out = resolve_arg(args.out)
    if args.customers < 100:
        raise PlaybookError(f"--customers must be at least 100 (got {args.customers}).")
    t0 = time.perf_counter()
    _echo(f"Generating {args.customers:,} customers (seed {args.seed}) into {out} ...")
    truth = synth.generate(
        n_customers=args.customers,
        seed=args.seed,
        out_dir=out,
        start=args.start,
        end=args.end,
        progress=lambda m: _echo(f"  {m}"),
    )
    rows = truth.get("rows", {})
    if rows:
        _echo("  rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    _echo(f"Done in {time.perf_counter() - t0:.1f} s. Planted truth: {out / 'truth.json'}")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    given = args.source
    if given and "://" not in given and not Path(given).is_absolute():
        given = str(resolve_arg(given, existing=True))  # typed on the command line: relative to here
    source = DataSource.parse(given, timezone=args.timezone, encoding=args.encoding)
    wh = connect(replace(source, merge_line_items=args.merge_line_items,
                         exclude_extreme_orders=not args.keep_extreme_orders))
    report = validate(wh, orphan_threshold=args.orphan_threshold)
    _echo(report.format())
    if report.ok:
        _echo("No errors: the data meets the contract (soft problems above are handled by cleaning).")
        return EXIT_OK
    _err(f"{len(report.errors)} error(s): fix them in the source data before running the playbook.")
    return EXIT_FAIL


def _cmd_init_data(args: argparse.Namespace) -> int:
    folder = resolve_arg(args.folder)
    written = write_template(folder)
    _echo(f"Wrote {len(written)} files into {folder}:")
    for path in written:
        _echo(f"  {path.name}")
    _echo(f"Fill in the tables you have (see {folder / 'README.md'}), then run: "
          f"playbook validate-data {args.folder}")
    return EXIT_OK


def _channel_rule(value: str) -> tuple[str, str]:
    """``--channel PATTERN=CHANNEL`` value."""
    pattern, sep, channel = value.rpartition("=")
    if not sep or not pattern or not channel:
        raise argparse.ArgumentTypeError(f"expected PATTERN=CHANNEL (e.g. 'retarget|display=display'), got {value!r}")
    return pattern, channel.strip()


def _import_options(args: argparse.Namespace) -> ImportOptions:
    """Currency and time zone from ``--config`` (a campaign file), overridden by the flags."""
    currency, timezone = None, "UTC"
    if args.config:
        cfg = load_config(args.config)
        currency, timezone = cfg.currency, cfg.data.timezone or cfg.timezone
    return ImportOptions(currency=args.currency or currency, timezone=args.timezone or timezone,
                         channel_rules=tuple(args.channel or ()))


def _cmd_import(args: argparse.Namespace) -> int:
    out = resolve_arg(args.out)
    options = _import_options(args)
    _echo(f"Importing {len(args.files)} {args.platform} file(s) into {out} "
          f"(currency {options.currency or 'not checked'}, times without offset in {options.timezone}) ...")
    summary = run_import(args.platform, [resolve_arg(f) for f in args.files], out, options)
    for note in summary.notes:
        _echo(f"  {note}")
    _echo("  wrote: " + ", ".join(f"{t} ({n:,} rows)" for t, n in summary.rows.items()))
    _echo(f"Next: playbook validate-data {args.out}")
    return EXIT_OK


def _cmd_check_config(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.configs:
        try:
            cfg = load_config(path)
        except PlaybookError as exc:
            failed += 1
            _err(f"{path}: invalid\n{exc}")
        else:
            problems = setup_problems(cfg)  # the data folder and rule fields: checked before a run
            if problems:
                failed += 1
                _err(f"{path}: invalid\n" + "\n".join(f"  - {p}" for p in problems))
                continue
            _echo(f"{path}: ok ({cfg.slug}, {cfg.season.start} to {cfg.season.end})")
            for section, effect in cfg.absent_sections():
                _echo(f"  {section}: {effect}")
    return EXIT_USAGE if failed else EXIT_OK


def preflight(cfg: CampaignConfig, data_source: DataSource | str | None = None) -> None:
    """Validate a campaign's data source against the contract before any analysis runs.

    Parameters
    ----------
    cfg : CampaignConfig
        The campaign; its ``data`` section gives the source, time zone and encoding.
    data_source : DataSource or str, optional
        A :class:`DataSource` used whole, or ``--data-source`` (replaces only the location; see
        :meth:`DataSource.from_config`).

    Raises
    ------
    DataError
        The source is missing, or violates the contract; the message lists every error at once
        (soft problems such as duplicate people do not stop a run: cleaning handles them).
    """
    source = campaign_source(cfg, data_source)
    wh = connect(source)
    # as start_step sets it: the cache key includes it, so the segment step's audit reuses this result
    # (without it 02 validated the data again: 32 s at 1M customers)
    wh.default_country = cfg.countries[0]
    # cached by data files, timezone, encoding and threshold: a batch on one source validates it once
    report = validation_report(wh, cfg.data.orphan_threshold, cache_dir(cfg))
    if not report.ok:
        errors = "\n".join(f"  - {f.table}.{f.column or '*'}: {f.message}" for f in report.errors)
        raise DataError(
            f"The data in {source} violates the data contract ({len(report.errors)} error(s)); "
            f"no notebook was run:\n{errors}\nRun `playbook validate-data {_validate_args(source)}` "
            "for details.")


def _validate_args(source: DataSource) -> str:
    """The ``validate-data`` arguments that check ``source`` as the run does (credentials masked)."""
    args = [source.display()]
    if source.timezone:
        args += ["--timezone", source.timezone]
    if source.encoding:
        args += ["--encoding", source.encoding]
    if source.merge_line_items:
        args += ["--merge-line-items"]
    if not source.exclude_extreme_orders:
        args += ["--keep-extreme-orders"]
    return " ".join(args)


def _positive_seconds(value: str) -> int:
    """``--timeout`` value: a positive whole number of seconds (0 and negatives used to mean "no
    limit" silently; issue 19, item 10)."""
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of seconds, got {value!r}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, got {seconds} (there is no 'no limit': "
                                         "give a large value such as 86400 for a very long run)")
    return seconds


def _jobs_arg(value: str) -> int:
    """``--jobs`` value: a positive number of kernels, or 0 / ``auto`` for one per CPU."""
    try:
        return resolve_jobs(value)
    except RunError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--jobs ")) from None


def _as_of_arg(value: str) -> str:
    """``--as-of`` value: a calendar day ``YYYY-MM-DD`` (the season check follows per campaign)."""
    try:
        day = parse_as_of(value)
    except ConfigError:
        raise argparse.ArgumentTypeError(f"expected a calendar day written YYYY-MM-DD (e.g. 2025-12-05), "
                                         f"got {value!r}") from None
    if day is None:
        raise argparse.ArgumentTypeError("expected a calendar day written YYYY-MM-DD (e.g. 2025-12-05), got nothing")
    return day.isoformat()


def key_notice() -> str:
    """Which key pseudonymizes the run's ids, by fingerprint (never the key); creates the per-project
    key on first use (:func:`playbook.report.privacy.pseudonym_key`)."""
    key = pseudonym_key()
    line = f"Pseudonymous ids: {key.describe()}."
    if key.created:
        line += (" Created now: keep it (reruns must use the same key to match earlier artifacts), never "
                 f"commit or share it; {PSEUDONYM_KEY_ENV} set to its content uses it elsewhere.")
    return line


def _cmd_run(args: argparse.Namespace) -> int:
    steps = resolve_steps(args.only)  # fail fast on an unknown step name, before any work
    if args.as_of is not None and "06_track" not in steps:
        raise RunError(f"--as-of applies to the in-season tracking step only, which this run does not include "
                       f"(steps: {', '.join(steps)}): add --only track (e.g. --only track --as-of {args.as_of}).")
    use_kernel_start_timeout(args.kernel_start_timeout)  # read by every kernel start of this run
    _echo(key_notice())

    def _load_and_check(path: str | os.PathLike[str]) -> CampaignConfig:
        """Load a config and, unless --no-validate, check its data before any notebook runs."""
        cfg = load_config(path)
        check_output_dir(resolve(cfg.output_dir))  # before preflight writes its cache next to the reports
        if not args.no_validate:
            preflight(cfg, args.data_source)
        return cfg

    results = run_campaigns(
        args.configs,
        only=args.only,
        loader=_load_and_check,
        timeout=args.timeout,
        data_source=args.data_source,
        seed=args.seed,
        kernel_name=args.kernel,
        progress=_echo,
        jobs=args.jobs,
        as_of=args.as_of,
    )
    _echo("")
    _echo(summary_table(results))
    return exit_code(results)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for tests and documentation)."""
    p = argparse.ArgumentParser(
        prog="playbook",
        description="Seasonal Campaign Playbook: plan, segment, personalize, test and review a campaign.",
    )
    p.add_argument("--version", action="version", version=f"playbook {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    g = sub.add_parser("generate-data", help="write the synthetic sample data with planted truth")
    g.add_argument("--customers", type=int, default=20000, help="number of customers (default 20000)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    g.add_argument("--out", default="data/sample", help="output folder (default data/sample)")
    g.add_argument("--start", default="2023-01-01", help="first day of history (default 2023-01-01)")
    g.add_argument("--end", default="2026-01-31", help="last day of history (default 2026-01-31)")
    g.set_defaults(func=_cmd_generate)

    v = sub.add_parser("validate-data", help="check a data source against the data contract")
    v.add_argument("source", nargs="?", default=None, help="folder or Ibis URL (default data/sample)")
    v.add_argument("--timezone", default=None, help="IANA zone for naive timestamps (else rejected)")
    v.add_argument("--encoding", default=None, help="encoding of CSV files (default UTF-8)")
    v.add_argument("--orphan-threshold", type=int, default=0, help="orphans tolerated (default 0)")
    v.add_argument("--merge-line-items", action="store_true",
                   help="orders has one row per line item: merge a customer's rows at one order_ts "
                        "(as data.merge_line_items)")
    v.add_argument("--keep-extreme-orders", action="store_true",
                   help="the campaign keeps extreme orders (data.exclude_extreme_orders: false)")
    v.set_defaults(func=_cmd_validate)

    i = sub.add_parser("init-data", help="write header-only CSV templates of every table and a column guide")
    i.add_argument("folder", help="folder to write the templates into (created when missing)")
    i.set_defaults(func=_cmd_init_data)

    platforms = "\n".join(f"  {p.name:<11} {p.reads} -> {p.writes}" for p in PLATFORMS.values())
    m = sub.add_parser(
        "import", help="map a platform's exports (Shopify, GA4, Klaviyo, Meta Ads, ...) to the canonical tables",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Read a platform's export files and write (or merge into) a folder of canonical tables "
                    "that `playbook validate-data` and a campaign's data.source can use. Importing the same "
                    "files again changes nothing; a newer export adds and updates rows by key.",
        epilog=f"platforms:\n{platforms}\n\nImport customers and orders (shopify, magento) before the "
               "other platforms: messages and web events are joined to customers by email and id.\n"
               "Example: playbook import shopify orders_export.csv customers_export.csv --out data/my-shop "
               "--config campaigns/my-campaign.yaml")
    m.add_argument("platform", choices=list(PLATFORMS), metavar="PLATFORM",
                   help="one of: " + ", ".join(PLATFORMS))
    m.add_argument("files", nargs="+", metavar="FILE", help="export files of that platform")
    m.add_argument("--out", required=True, help="folder of canonical tables to write or merge into")
    m.add_argument("--config", default=None, help="campaign file: its currency is checked and its time zone "
                                                  "(data.timezone, else timezone) reads times without offset")
    m.add_argument("--currency", default=None, help="ISO 4217 code the money must be in (overrides --config)")
    m.add_argument("--timezone", default=None, help="IANA zone of times without offset (default UTC)")
    m.add_argument("--channel", action="append", type=_channel_rule, metavar="PATTERN=CHANNEL",
                   help="spend imports: campaigns whose name matches PATTERN (regex, case-insensitive) go to "
                        "CHANNEL; repeatable, first match wins (default: paid_social for Meta, paid_search "
                        "for Google)")
    m.set_defaults(func=_cmd_import)

    c = sub.add_parser("check-config", help="validate campaign config files")
    c.add_argument("configs", nargs="+", help="campaign YAML files")
    c.set_defaults(func=_cmd_check_config)

    r = sub.add_parser("run", help="execute the notebooks for one or more campaigns")
    r.add_argument("configs", nargs="+", help="campaign YAML files (one season's batch)")
    r.add_argument("--only", nargs="+", default=None, metavar="STEP",
                   help="steps to run: plan segment personalize test retrospective (or 1-5); in season also "
                        "track (6), which a run without --only never runs")
    r.add_argument("--as-of", type=_as_of_arg, default=None, metavar="YYYY-MM-DD",
                   help="in-season tracking (--only track): the day to track to, inclusive, in the campaign's "
                        "time zone (default: the data's last day)")
    r.add_argument("--timeout", type=_positive_seconds, default=1800,
                   help="per-cell timeout in seconds, a positive whole number (default 1800)")
    r.add_argument("--data-source", default=None, help="override the config's data.source")
    r.add_argument("--seed", type=int, default=None, help="override the notebooks' random seed")
    r.add_argument("--kernel", default="seasonal-playbook", help="Jupyter kernel (default seasonal-playbook)")
    r.add_argument("--kernel-start-timeout", type=_positive_seconds, default=None, metavar="SECONDS",
                   help=f"seconds each kernel gets to start, a positive whole number (default "
                        f"{KERNEL_START_TIMEOUT:g}, or PLAYBOOK_KERNEL_START_TIMEOUT)")
    r.add_argument("-j", "--jobs", type=_jobs_arg, default=1, metavar="N",
                   help="kernels at once: independent steps (and campaigns of a batch) run in "
                        "parallel; 0 or 'auto' = one per CPU (default 1: one step at a time)")
    r.add_argument("--no-validate", action="store_true",
                   help="skip the data-contract check before the notebooks run")
    r.set_defaults(func=_cmd_run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``playbook`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except PlaybookError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAIL
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
