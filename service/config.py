"""Settings: one class, read from the environment (prefix MODERATION_, plus REDIS_URL)."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import limits
from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: The rules shipped with the code (policy and word lists). A deployment points MODERATION_RULES_DIR elsewhere.
DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def _comma_separated(value: object, lower: bool = False) -> object:
    """A list setting given as one comma-separated string ("a, b,,c"): its items stripped, empty ones dropped,
    lower-cased if asked. A list stays a list (cleaned the same way); anything else is left to validation."""
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, list | tuple):
        return [
            str(item).strip().lower() if lower else str(item).strip() for item in items if str(item).strip()
        ]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODERATION_",
        env_ignore_empty=True,
        case_sensitive=False,
        extra="ignore",
    )

    ENVIRONMENT: Literal["development", "production"] = "development"
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    #: A Detoxify model name (original, unbiased, multilingual, original-small, unbiased-small) or "none".
    MODEL: str = "unbiased"
    #: A local folder with a Detoxify checkpoint plus its Hugging Face config and tokenizer files (run by
    #: PyTorch), or a folder written by `moderation model export` (run by ONNX Runtime).
    MODEL_PATH: Path | None = None
    #: Threads PyTorch may use for inference; 0 means one per CPU core.
    MODEL_THREADS: int = Field(default=0, ge=0)

    # Micro-batching of model calls (service/model/batcher.py) and long comments.
    #: The most comments one model call takes. On 2 CPU cores a bert-base model's throughput grows little
    #: past 16 comments a call, and latency does.
    BATCH_MAX_SIZE: int = Field(default=16, ge=1)
    #: How long the first comment of a batch waits for others before the batch runs anyway: long enough for
    #: requests arriving together to meet, short next to one model call (tens of ms).
    BATCH_MAX_WAIT_MS: float = Field(default=5.0, ge=0)
    #: The most comments waiting for the model; past it requests get 503 "overloaded" with Retry-After.
    #: About ten seconds of bert-base work on 2 cores; past it a client does better retrying later.
    QUEUE_MAX: int = Field(default=256, ge=1)
    #: The Retry-After (seconds) of an "overloaded" answer.
    RETRY_AFTER_S: int = Field(default=1, ge=1)
    #: Tokens shared by neighbouring windows when a comment is longer than the model's limit (the model
    #: layer's own default, service.model.windows.DEFAULT_WINDOW_OVERLAP, is the same; a test holds them so).
    WINDOW_OVERLAP: int = Field(default=128, ge=0)

    RULES_DIR: Path = DEFAULT_RULES_DIR
    #: The policy file; defaults to RULES_DIR/policy.yaml.
    POLICY_FILE: Path | None = None

    #: Unset: verdicts are cached in process memory (fine for one process, lost on restart).
    REDIS_URL: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "MODERATION_REDIS_URL")
    )
    REDIS_PREFIX: str = "moderation:"
    CACHE_TTL_S: int = Field(default=24 * 3600, ge=1)

    MAX_CHARS: int = Field(default=10_000, ge=1)
    MAX_BATCH: int = Field(default=100, ge=1)

    # Decision log, review queue and comment statuses (in Redis, or in process memory without REDIS_URL).
    #: How long log entries and final comment statuses are kept.
    LOG_RETENTION_DAYS: int = Field(default=30, ge=1)
    #: The log's cap in entries, whatever their age (Redis trims it approximately, in whole nodes).
    LOG_MAX_ENTRIES: int = Field(default=1_000_000, ge=100)

    # Dashboard and review/admin API login. Outside development a missing or guessable password (see
    # ADMIN_PASSWORD_MIN_SCORE) refuses to start the service; in development an unset one is generated and
    # logged once at startup.
    ADMIN_USER: str = Field(default="admin", min_length=1)
    ADMIN_PASSWORD: str | None = None
    #: Signs session cookies (at least SECRET_MIN_BYTES, required outside development); every worker and
    #: instance of a deployment needs the same one, and a new one signs everyone out. Unset in development:
    #: random per process.
    SESSION_SECRET: str | None = None
    SESSION_MAX_AGE_S: int = Field(default=12 * 3600, ge=60)

    #: Receives each moderator's final decision (POST, JSON, signed with WEBHOOK_SECRET); unset: no webhook.
    WEBHOOK_URL: str | None = None
    WEBHOOK_SECRET: str | None = None
    WEBHOOK_MAX_ATTEMPTS: int = Field(default=6, ge=1)
    #: First retry delay; it doubles per attempt, up to WEBHOOK_BACKOFF_MAX_S.
    WEBHOOK_BACKOFF_S: float = Field(default=1.0, gt=0)
    WEBHOOK_BACKOFF_MAX_S: float = Field(default=60.0, gt=0)
    WEBHOOK_TIMEOUT_S: float = Field(default=5.0, gt=0)

    @field_validator("MODEL")
    @classmethod
    def _model_lower(cls, value: str) -> str:
        return value.strip().lower()

    @property
    def policy_file(self) -> Path:
        return self.POLICY_FILE or self.RULES_DIR / "policy.yaml"

    @property
    def model_threads(self) -> int:
        return self.MODEL_THREADS or (os.cpu_count() or 1)

    @property
    def max_body_bytes(self) -> int:
        # Worst case of a full batch of maximum-length comments, each character escaped as \uXXXX (6 bytes)
        # with a surrogate pair (x2), plus room for the other fields. Anything larger cannot be valid.
        return self.MAX_BATCH * (self.MAX_CHARS * 12 + 4096) + 4096

    # -- login hardening (issue 10) -------------------------------------------------------------------------
    # Login attempts, right or wrong, per client address and per user name tried, in the `limits` package's
    # notation (moving windows; several separated by ";"). Past either, both login doors answer 429 with
    # Retry-After, the right password included, until the oldest attempt leaves the window. Counted in
    # Redis at REDIS_URL (shared by every worker and instance), else in process memory. A value `limits`
    # cannot read stops the start (service/runtime.py).
    #: One person mistyping, or a script logging in now and then, stays well inside this. Keep it below
    #: LOGIN_LIMIT_PER_USER: an address's refused attempts do not count against the user, so then one address
    #: alone cannot use up the moderator's attempts and lock them out.
    LOGIN_LIMIT_PER_IP: str = "10/minute;60/hour"
    #: What guessers spread over many addresses get together: 200 an hour is about 1.75 million a year,
    #: against the 10^8 guesses a password of zxcvbn score 3 needs at the least.
    LOGIN_LIMIT_PER_USER: str = "20/minute;200/hour"
    #: The least zxcvbn score (0-4) of the admin password outside development. 3 means "safely
    #: unguessable" (10^8 guesses or more): out of reach online under the limits above, and there is no
    #: offline copy to attack (sessions are not derived from it). It may be raised to 4, not lowered.
    ADMIN_PASSWORD_MIN_SCORE: int = Field(default=3, ge=3, le=4)
    #: The shortest session and webhook secret accepted outside development, in bytes (UTF-8): 32 bytes is
    #: HMAC-SHA256's own key size. It may be raised, not lowered.
    SECRET_MIN_BYTES: int = Field(default=32, ge=32)

    # -- headers and surfaces (issue 10) ---------------------------------------------------------------
    #: The Host names the service answers to, comma-separated ("*.example.org" also allows its subdomains,
    #: "*" any host); another Host gets 400. Unset: localhost, 127.0.0.1 and testserver (the test client's) in
    #: development, and production refuses to start. /healthz, /readyz and /metrics answer any Host, since
    #: probes and scrapers address the container by its IP.
    ALLOWED_HOSTS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Opens /metrics and /readyz's details to `Authorization: Bearer <token>` (at least SECRET_MIN_BYTES
    #: bytes in production). Unset: both open in development (which binds 127.0.0.1); elsewhere /metrics answers 403 and
    #: /readyz only "ready" or "not ready" (all that `moderation probe` and load balancers read).
    METRICS_TOKEN: str | None = None
    #: The largest body a dashboard form (or any route outside the JSON API) may send. The longest real form
    #: is a review note: 2,000 characters, up to 12 bytes each URL-encoded, so 24 KB.
    FORM_MAX_BYTES: int = Field(default=64 * 1024, ge=1024)

    _DEVELOPMENT_HOSTS: ClassVar[tuple[str, ...]] = ("localhost", "127.0.0.1", "testserver")

    @field_validator("ALLOWED_HOSTS", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return _comma_separated(value, lower=True)

    @property
    def allowed_hosts(self) -> list[str]:
        """The Host names to answer: ALLOWED_HOSTS, or in development the local ones."""
        if self.ALLOWED_HOSTS or self.ENVIRONMENT != "development":
            return list(self.ALLOWED_HOSTS)
        return list(self._DEVELOPMENT_HOSTS)

    def check_exposure(self) -> None:
        """Raise ExposureConfigError where production would answer any Host or guard its metrics weakly."""
        if self.ENVIRONMENT == "development":
            return
        if not self.ALLOWED_HOSTS:
            raise ExposureConfigError(
                "MODERATION_ALLOWED_HOSTS is not set; outside development the service answers only the Host "
                "names it is told (e.g. MODERATION_ALLOWED_HOSTS=comments.example.org)"
            )
        if self.METRICS_TOKEN is not None and len(self.METRICS_TOKEN.encode()) < self.SECRET_MIN_BYTES:
            raise ExposureConfigError(
                f"MODERATION_METRICS_TOKEN is shorter than {self.SECRET_MIN_BYTES} bytes; use a random "
                "one (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) or leave it unset"
            )

    # -- the comment's path: bounded work and storage per comment (issue 10) ----------------------------------
    #: Threads that run word-list matching, off the event loop, so that one slow comment never holds up health
    #: checks or other requests. Matching holds the GIL, so a second thread matches no faster and only competes
    #: with the event loop for it: measured with `python -m tests.benchmarks.bench_pipeline` during a 1 MB
    #: batch, /healthz's median 9 ms with one thread against 92-102 ms with two, the batch as fast (2.9 s).
    MATCH_THREADS: int = Field(default=1, ge=1)
    #: Word-list matches a verdict keeps (the verdict says how many it left out). One match of each
    #: (tier, clause) pair always stays, so the cap never changes a verdict: at least 9 (three tiers that
    #: match, three clauses). A reader gets the point from a few highlighted words; each match costs about 120
    #: bytes in the verdict, the cache and the log.
    MAX_MATCHES: int = Field(default=20, ge=9)
    #: Reasons a verdict keeps, the most severe first (the verdict says how many it left out).
    MAX_REASONS: int = Field(default=20, ge=1)
    #: Characters of a comment the decision log keeps (the entry says how many it cut): two screens of
    #: reading for a moderator, while a log page of 500 entries stays a few MB.
    LOG_TEXT_MAX_CHARS: int = Field(default=4_000, ge=1)
    #: Pending reviews in the queue; past it, the oldest move to the review overflow (still pending, counted,
    #: shown after the queue). More than a moderation team clears in a day.
    REVIEW_QUEUE_MAX: int = Field(default=10_000, ge=1)
    #: Pending reviews in the overflow; past it, the oldest are lost to review (counted; their status stays
    #: pending_review, unpublished, until LOG_RETENTION_DAYS). With the queue, this bounds pending reviews'
    #: storage: about 30,000 x 20 KB at most.
    REVIEW_OVERFLOW_MAX: int = Field(default=20_000, ge=0)

    # -- API keys per site (issue 13) ---------------------------------------------------------------------------
    #: Whether every scoring door (our /v1/moderate, Perspective's, Coral's, OpenAI's) refuses a request without
    #: a live API key, each in its own error shape. Unset: on in production, off in development, where an
    #: embedded run needs no keys (a key of ours that is sent is still checked, and the site recorded).
    REQUIRE_API_KEY: bool | None = None
    #: Keep the sites' API keys in this JSON file (mode 0600; service/store/keyfile.py) instead of Redis:
    #: for runs without Redis, where `moderation keys` and every service process share the file. Unset: in
    #: Redis at REDIS_URL (without Redis, in process memory, which no command can reach).
    KEYS_FILE: Path | None = None

    @property
    def require_api_key(self) -> bool:
        """REQUIRE_API_KEY, defaulting by ENVIRONMENT: on in production, off in development."""
        if self.REQUIRE_API_KEY is None:
            return self.ENVIRONMENT == "production"
        return self.REQUIRE_API_KEY

    # -- Perspective's API and Coral Talk's Perspective integration (issue 13) -----------------------------
    #: The most UTF-8 bytes of a comment's text that comments:analyze and comments:suggestscore take:
    #: Perspective's own limit (20 KB), so that a client sees the same refusal it saw from Perspective.
    PERSPECTIVE_MAX_COMMENT_BYTES: int = Field(default=20_480, ge=1)
    #: PROFANITY's score for a comment with a listed word of the review tier (one of the reject tier scores
    #: 1.0); the model's obscene score when higher. Above Coral Talk's default threshold (0.8, which a score must
    #: exceed), so that Coral holds such a comment for its moderators, as our own API sends it to review.
    PERSPECTIVE_PROFANITY_REVIEW_SCORE: float = Field(default=0.85, ge=0, le=1)
    #: Span scores per attribute with spanAnnotations: one per sentence, and past this many, neighbouring
    #: sentences share one, so that a comment at the size limit costs at most this many more model inputs.
    PERSPECTIVE_MAX_SPANS: int = Field(default=32, ge=1)
    #: Suggested scores kept (comments:suggestscore, shown on the dashboard); past it the oldest go. They are
    #: also dropped after LOG_RETENTION_DAYS. Each holds at most LOG_TEXT_MAX_CHARS of its comment.
    SUGGESTIONS_MAX: int = Field(default=100_000, ge=100)

    @property
    def perspective_max_body_bytes(self) -> int:
        # A comment at its limit with every byte escaped in JSON (a control character is one UTF-8 byte and
        # six escaped, the most any byte grows), plus room for the other fields: attributes, languages,
        # tokens, and a context of a few comments. Anything larger cannot be a valid request.
        return self.PERSPECTIVE_MAX_COMMENT_BYTES * 6 + 64 * 1024

    # -- Coral Talk's external moderation phase (issue 13) -------------------------------------------------
    #: The signing secrets of Coral's external moderation phase (Coral's admin, Configure > Moderation >
    #: External moderation phases, shows each), comma-separated. A request is Coral's when its
    #: X-Coral-Signature holds an HMAC-SHA256 of the body under any of them, so a rotation is: add Coral's new
    #: secret, and drop the old one once Coral no longer signs with it. Unset: POST /v1/coral/moderate is off
    #: and answers 404 coral_off. Outside development each must be at least SECRET_MIN_BYTES bytes (Coral's
    #: own are longer).
    CORAL_SECRETS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Coral author roles whose comments are not moderated (comma-separated; "none" scores everyone): the
    #: door answers 204, Coral's "do not moderate". Coral's own approveStaff phase approves these roles before
    #: it calls an external phase; this keeps their comments out of our log should one reach us anyway.
    CORAL_SKIP_ROLES: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["ADMIN", "MODERATOR", "STAFF"]
    )
    #: The site Coral's decisions are recorded under (the dashboard's site filter). A Coral phase proves
    #: itself by its signature, not an API key, and the tenant it names is its own say: the site comes from
    #: here, where the operator sets it.
    CORAL_SITE: str = Field(default="coral", min_length=1, max_length=100)
    #: The phase's "Format" in Coral: HTML (the default), whose text is scored and whose spans map back into
    #: the HTML, or PLAIN_TEXT, scored as sent ("<b>" in plain text is what the commenter typed).
    CORAL_BODY_FORMAT: Literal["HTML", "PLAIN_TEXT"] = "HTML"
    #: The largest body POST /v1/coral/moderate reads (and hashes, before it knows the request is Coral's);
    #: a larger one is held for a person (SYSTEM_WITHHELD), not refused, since Coral publishes what an error
    #: answers. Coral stores a comment as sanitised HTML: a MAX_CHARS (10,000) character comment is ~10-60 KB
    #: even with every character an entity ("&nbsp;"), so 256 KB leaves room for formatting and links while
    #: bounding what reading costs: ~0.25 s of one thread for the most hostile markup (bench_coral).
    CORAL_MAX_BODY_BYTES: int = Field(default=256 * 1024, ge=64 * 1024)

    @field_validator("CORAL_SECRETS", "CORAL_SKIP_ROLES", mode="before")
    @classmethod
    def _split_coral_lists(cls, value: object) -> object:
        return _comma_separated(value)

    @field_validator("CORAL_SKIP_ROLES")
    @classmethod
    def _coral_roles(cls, value: list[str]) -> list[str]:
        roles = [role.upper() for role in value]
        return [] if roles == ["NONE"] else roles

    @field_validator("CORAL_SECRETS")
    @classmethod
    def _coral_secrets_long(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # ENVIRONMENT and SECRET_MIN_BYTES are declared above, so validated before this field.
        if info.data.get("ENVIRONMENT", "development") != "development":
            least = info.data.get("SECRET_MIN_BYTES", 32)
            for index, secret in enumerate(value):
                if len(secret.encode()) < least:
                    raise ValueError(
                        f"MODERATION_CORAL_SECRETS: secret {index + 1} is {len(secret.encode())} bytes; "
                        f"outside development each must be at least {least} (paste the one Coral shows)"
                    )
        return value

    # -- nothing lost without Redis: the memory store (issue 12) ----------------------------------------------
    #: Without REDIS_URL the cache, the decision log, the statuses and the review queue live in this process's
    #: memory: one process only, and a restart loses every pending review and decision. In development that
    #: is the embedded default; outside it, it takes saying so (true), else `moderation serve` refuses to
    #: start. Ignored when REDIS_URL is set.
    ALLOW_MEMORY_STORE: bool = False
    #: What the memory store must never drop on its own, at most: pending reviews and moderators' decisions
    #: (each until decided, or for LOG_RETENTION_DAYS). Past it a new one is refused (StoreFull): the comment
    #: is answered but not recorded, as in a Redis outage, and a decision answers 503, until moderators clear
    #: reviews or decisions expire. About 2-20 KB each (the entry's text), so 100,000 is up to ~2 GB at worst;
    #: the review queue's caps (REVIEW_QUEUE_MAX + REVIEW_OVERFLOW_MAX) usually bound pending reviews first.
    MEMORY_MAX_HELD: int = Field(default=100_000, ge=100)

    def check_store(self) -> None:
        """Raise StoreConfigError where production would keep its moderators' work in one process's memory."""
        if self.ENVIRONMENT == "development" or self.REDIS_URL or self.ALLOW_MEMORY_STORE:
            return
        raise StoreConfigError(
            "REDIS_URL is not set, so the decision log, the review queue and every comment's status would live "
            "in this process's memory: lost on restart, not shared with other workers. Set REDIS_URL (e.g. "
            "redis://redis:6379/0), or, for a single process that may lose them, say so with "
            "MODERATION_ALLOW_MEMORY_STORE=true"
        )

    # -- Rules reload off the request path (issue 12) ------------------------------------------------------
    #: Seconds between looks at the rules files (the policy and the word lists) for an edit, which is then
    #: rebuilt in a background thread and swapped in when built; requests never wait for it. 0 turns hot
    #: reloading off (edits then need a restart).
    RULES_RELOAD_POLL_S: float = Field(default=1.0, ge=0, le=3600)
    #: How long the files must hold still before an edit is rebuilt: a burst of writes (an editor's save, a
    #: deploy copying several files) is one rebuild, not one per write.
    RULES_RELOAD_DEBOUNCE_S: float = Field(default=0.5, ge=0, le=60)

    # -- the commenter's appeal and statement of reasons (issue 14) ------------------------------------------
    #: The most characters of a commenter's explanation with an appeal (a longer one is refused with 422):
    #: a few paragraphs, what a moderator reads in a minute, and at most ~8 KB kept per appealed comment.
    APPEAL_MAX_CHARS: int = Field(default=2_000, ge=1, le=20_000)
    #: Days after a rejection (the service's or a moderator's) during which its commenter may appeal it: six
    #: months, the period the Digital Services Act (Art. 20) gives for its internal complaints. An appeal
    #: needs the comment's status, kept LOG_RETENTION_DAYS (default 30) from the decision, so the window in
    #: force is the shorter of the two: set LOG_RETENTION_DAYS=183 too for the full six months.
    APPEAL_WINDOW_DAYS: int = Field(default=183, ge=1, le=3_650)
    #: The most statements one dashboard export (statements.jsonl) writes; the file says when it stopped
    #: there. Each costs one log entry read and one status read, a few hundred bytes of output.
    STATEMENT_EXPORT_MAX: int = Field(default=50_000, ge=1, le=1_000_000)

    @property
    def appeal_window_s(self) -> int:
        """The window in force: no longer than a rejected comment's status is kept (LOG_RETENTION_DAYS), as an
        appeal needs the status; so the statement's deadline is one the service keeps."""
        return min(self.APPEAL_WINDOW_DAYS, self.LOG_RETENTION_DAYS) * 86_400

    # -- outage journal (issue 12) -------------------------------------------------------------------------
    #: Where the service keeps local state: the outage journal lives in DATA_DIR/journal/<prefix>/slot-<n>
    #: (one slot per process sharing the folder; made 0700). Give it a persistent volume: decision records
    #: written there during a Redis outage are replayed from it after a restart.
    DATA_DIR: Path = Field(default_factory=lambda: _default_data_dir())
    #: Keep decision records that Redis could not take in the journal, replayed when it answers again
    #: (only with REDIS_URL: the memory store is never down). Off: such records are dropped, as before.
    JOURNAL: bool = True
    #: The journal's bound in records and in bytes (each record is held on disk and, as its JSON line, in
    #: memory until replayed). Past either, records are dropped, counted and logged as an error; verdicts
    #: still go out. Size it as outage seconds x recorded verdicts a second x bytes a record (/metrics:
    #: moderation_journal_bytes / moderation_journal_records; ~1-3 KB, the comment's text included).
    JOURNAL_MAX_RECORDS: int = Field(default=100_000, ge=1)
    JOURNAL_MAX_BYTES: int = Field(default=128 * 1024 * 1024, ge=64 * 1024)
    #: Records are fsynced in groups: a group closes this many milliseconds after its first record or at
    #: JOURNAL_FSYNC_RECORDS records, whichever comes first. A crash can lose at most the open group.
    JOURNAL_FSYNC_MS: float = Field(default=50.0, gt=0, le=10_000)
    JOURNAL_FSYNC_RECORDS: int = Field(default=512, ge=1)
    #: Replay takes this many records at a time, written as JOURNAL_REPLAY_CONCURRENCY concurrent store
    #: calls (never two records of one comment at once), and tries again this often while the store is down.
    JOURNAL_REPLAY_BATCH: int = Field(default=100, ge=1, le=10_000)
    JOURNAL_REPLAY_CONCURRENCY: int = Field(default=8, ge=1, le=64)
    JOURNAL_RETRY_MS: int = Field(default=1_000, ge=10, le=600_000)

    @field_validator("DATA_DIR")
    @classmethod
    def _data_dir_usable(cls, value: Path) -> Path:
        value = value.expanduser()
        if value.exists() and not value.is_dir():
            raise ValueError(f"MODERATION_DATA_DIR={value} exists and is not a directory")
        return value

    # -- the commenter's widget: pre-check and CORS (issue 14) ----------------------------------------------
    #: The web origins (scheme://host[:port], comma-separated) whose pages may call the widget's endpoints
    #: (POST /v1/precheck, POST /v1/moderate, /v1/comments/...) from the browser, as well as each site's own
    #: from its API key (`moderation keys create SITE --origin https://news.example`). Unset: none but the
    #: keys' (the service's own pages, such as /demo, are same-origin and need none).
    CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Pre-checks (POST /v1/precheck, what the widget asks while the commenter types) per client address, in
    #: the `limits` package's notation; past it 429 with Retry-After. The widget asks at most once per 300 ms
    #: pause in typing, so a fast typist sends one or two a second at the most: 120 a minute leaves room for a
    #: few commenters behind one address (an office, a school).
    PRECHECK_LIMIT_PER_IP: str = "120/minute;2000/hour"
    #: Pre-checks per site (the request's API key), all of its commenters together; anonymous requests
    #: count under the address alone.
    PRECHECK_LIMIT_PER_SITE: str = "6000/minute"
    #: Whether a pre-check runs the model as well as the word list. Off by default: the words the widget
    #: underlines all come from the word list, and the model would cost one call per pause in typing, in the
    #: same queue as the comments being decided. Measured (bench_widget, 2 cores, bert-base ONNX int8): 20
    #: typists cost 3.8 ms of CPU a pre-check on the word list (p99 25 ms) and 179 ms with the model, six times
    #: what 2 cores have (latencies of minutes, overloaded answers). On: the pre-check also warns of insults and
    #: threats no listed word shows; for machines with cores to spare. The comment's own /v1/moderate always
    #: runs the model.
    PRECHECK_MODEL: bool = False
    #: Serve /demo (an article of ours with the widget on its comment form). Unset: on in development only.
    DEMO_PAGE: bool | None = None

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return _comma_separated(value)

    @field_validator("CORS_ORIGINS")
    @classmethod
    def _web_origins(cls, value: list[str]) -> list[str]:
        origins = []
        for item in value:
            origin = web_origin(item)
            if origin is None:
                raise ValueError(
                    f"MODERATION_CORS_ORIGINS: {item!r} is not a web origin; write each as scheme://host[:port] "
                    "with no path, e.g. https://news.example"
                )
            origins.append(origin)
        return origins

    @field_validator("PRECHECK_LIMIT_PER_IP", "PRECHECK_LIMIT_PER_SITE")
    @classmethod
    def _limit_notation(cls, value: str, info: ValidationInfo) -> str:
        try:
            if not limits.parse_many(value):
                raise ValueError("empty")
        except ValueError:
            raise ValueError(
                f"MODERATION_{info.field_name}: {value!r} is not a rate limit; write e.g. '120/minute' or "
                "'120/minute;2000/hour'"
            ) from None
        return value

    # -- Webhook outbox (issue 12) ------------------------------------------------------------------------------
    # Deliveries go through a Redis Stream (process memory without REDIS_URL) read by a consumer group.
    #: Deliveries waiting or in flight, at most; past it a decision's delivery is refused and logged as lost.
    WEBHOOK_OUTBOX_MAX: int = Field(default=100_000, ge=1, le=10_000_000)
    #: Dead letters kept for the dashboard; past it the oldest are dropped.
    WEBHOOK_DEAD_LETTER_MAX: int = Field(default=10_000, ge=1, le=1_000_000)
    #: How long a delivery may sit unattended before another worker takes it over (its process died).
    WEBHOOK_CLAIM_IDLE_S: float = Field(default=30.0, gt=0)
    #: How often a worker looks for deliveries written by other processes (its own are taken at once).
    WEBHOOK_POLL_S: float = Field(default=1.0, gt=0, le=60)
    #: Deliveries one worker attempts at the same time.
    WEBHOOK_CONCURRENCY: int = Field(default=8, ge=1, le=256)

    @field_validator("WEBHOOK_CLAIM_IDLE_S")
    @classmethod
    def _claim_outlasts_a_post(cls, value: float, info: ValidationInfo) -> float:
        # A delivery is touched before each attempt and during each wait; an attempt that outlasted the
        # claim time could be taken over by another worker mid-POST and sent twice.
        timeout = info.data.get("WEBHOOK_TIMEOUT_S", 5.0)
        if value <= timeout:
            raise ValueError(
                f"MODERATION_WEBHOOK_CLAIM_IDLE_S ({value:g} s) must be longer than MODERATION_WEBHOOK_TIMEOUT_S "
                f"({timeout:g} s): otherwise another worker may take over a delivery while it is being POSTed"
            )
        return value

    # -- Moderators teach the word list (issue 11, item 7) ----------------------------------------------------
    # From the dashboard a moderator adds a term to rules/wordlist/site-allow.txt or site-block.txt, after
    # seeing what it would change among the most recent logged verdicts. Needs a writable rules folder.
    #: Logged verdicts the what-if re-judges (newest first, each comment once): the page's cost bound.
    TEACH_WHATIF_ENTRIES: int = Field(default=2_000, ge=1, le=100_000)
    #: Comments whose verdict would change listed on the page, at most (the count is always shown).
    TEACH_WHATIF_SHOWN: int = Field(default=50, ge=1, le=1_000)
    #: A taught term's length in characters, at most.
    TEACH_TERM_MAX_CHARS: int = Field(default=60, ge=1, le=200)
    #: Entries a site file may hold before the dashboard refuses to add more (edit it by hand past that).
    TEACH_FILE_MAX_ENTRIES: int = Field(default=5_000, ge=1, le=1_000_000)
    #: A site file's size in bytes before the dashboard refuses to add more.
    TEACH_FILE_MAX_BYTES: int = Field(default=512 * 1024, ge=1024, le=64 * 1024 * 1024)

    # -- Other languages than English (issue 11, item 6) ----------------------------------------------------------
    # The word list is English: its sub-word and disguised matches count in English text only. In another
    # language (the request's `lang`, else detected) only a listed term written out as a whole word counts,
    # unless it is a more common word of that language than of English (wordfreq). service/wordlist/language.py.
    #: Detect the language of a comment sent without `lang` (only when the word list matched something). Off:
    #: such comments are English, as before.
    LANG_DETECT: bool = True
    #: The detector reads at most this many characters of a comment (its cost stays bounded): ~40 us of CPU
    #: at 120 characters, ~85 us at 300 (py3langid 0.4.0, 16 candidates); 120 is a sentence or two, plenty.
    LANG_DETECT_MAX_CHARS: int = Field(default=120, ge=20, le=10_000)
    #: Fewer letters than this (in what the detector reads): too short to tell, taken as English.
    LANG_DETECT_MIN_LETTERS: int = Field(default=10, ge=1, le=1_000)
    #: The detector's probability for its best language, at least; under it the comment is taken as English.
    #: "Vi måste sluta nu" scores 0.68 for Swedish, "What a sh1t take." 0.81 for English, one-word texts < 0.2.
    LANG_DETECT_MIN_CONFIDENCE: float = Field(default=0.6, gt=0, le=1)
    #: The languages the detector chooses among (ISO 639-1 codes, comma-separated; English among them). Fewer
    #: candidates make short texts more reliable.
    LANG_DETECT_LANGUAGES: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGE_CANDIDATES)
    )
    #: A whole-word match in another language is that language's word, not English profanity, when its wordfreq
    #: Zipf frequency there is at least this and at least its frequency in English (Swedish "slut", "end").
    LANG_COMMON_ZIPF: float = Field(default=3.0, ge=0, le=8)

    @field_validator("LANG_DETECT_LANGUAGES", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        return _comma_separated(value, lower=True)

    @field_validator("LANG_DETECT_LANGUAGES")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        bad = [item for item in value if not re.fullmatch(r"[a-z]{2,3}", item)]
        if bad:
            raise ValueError(
                f"MODERATION_LANG_DETECT_LANGUAGES: {', '.join(map(repr, bad))} is not a language code; write "
                "ISO 639-1 codes, comma-separated, e.g. en,de,fr"
            )
        if "en" not in value:
            raise ValueError(
                "MODERATION_LANG_DETECT_LANGUAGES must include en: English is what the word list is for"
            )
        return list(dict.fromkeys(value))


#: European languages wordfreq has lists for, plus English: what the language detector chooses among by default.
DEFAULT_LANGUAGE_CANDIDATES: tuple[str, ...] = (
    "en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "ro", "hu", "tr",
)  # fmt: skip


def _default_data_dir() -> Path:
    """$XDG_STATE_HOME/moderation, else ~/.local/state/moderation (the XDG base directory default)."""
    state = os.environ.get("XDG_STATE_HOME")
    return (Path(state) if state else Path.home() / ".local" / "state") / "moderation"


_ORIGIN = re.compile(r"(https?)://([a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def web_origin(text: str) -> str | None:
    """`text` as a browser writes an Origin header (lower case, no default port, no trailing slash), or None
    when it is not an http(s) origin: a path, a query, "null" or a wildcard are not."""
    found = _ORIGIN.fullmatch(text.strip().rstrip("/").lower())
    if found is None:
        return None
    scheme, host, port = found.groups()
    if port is not None and not 0 < int(port) < 65536:
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()


class StoreConfigError(Exception):
    """Where moderators' work would be kept is unsafe for production (see Settings.check_store)."""


class ExposureConfigError(Exception):
    """What the service shows and to whom is unsafe for production (see Settings.check_exposure)."""
