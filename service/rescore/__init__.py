"""Batch rescoring (`moderation rescore`): comments re-judged in bulk on the API's own pipeline.

Modules, each importing only those below it (import-linter holds this order, see pyproject.toml):

    cli         the command: arguments, exit statuses, SIGTERM as Ctrl-C
    run         a JSONL/CSV file or stdin, resumable        from_log    the decision log in Redis, --apply
    judges      JudgeRunner: in process, --workers N processes, --ray actors
    ray         the Ray Data job (Ray imported only for --ray)
    output      output records, files at a known size, the summary, progress on the terminal
    records     input records: rows, bad rows with line numbers, chunks; the one CSV header reader
    options     the command's options and the formats they imply
    errors      exit statuses, RescoreError (2), RescoreFailed (3)

Nothing is imported here, so that a worker process or a Ray actor loads only what it runs.
"""
