"""Finding a Hugging Face model's `config.json`: in the local Hub cache, or by downloading that file alone.

The cache is the one `huggingface_hub` (and so transformers, vLLM, furiosa-llm) fills:
`<cache>/models--ORG--NAME/{refs/<branch or tag>, snapshots/<commit>/config.json, blobs/}`.
Where it lives and whether the network may be used come from the same environment variables
`huggingface_hub.constants` reads (HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN). That module
reads them once, at import; we read them at each call and pass `cache_dir` and `token`
explicitly, so a changed environment (a test, a long-lived API process) is honoured.

Only `config.json` is ever downloaded: the parameter counts, the KV cache and the checkpoint's
quantization (its `quantization_config`, see `autotune.specs.quantization`) all come from it.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "config.json"
#: Values huggingface_hub.constants._is_true accepts as "on" (ENV_VARS_TRUE_VALUES).
_TRUE_VALUES = frozenset({"1", "ON", "YES", "TRUE"})
#: A repository id `org/name`: letters, digits, '-', '_', '.'; no '--' or '..' (huggingface_hub validate_repo_id).
HF_ID = re.compile(r"(?!.*(--|\.\.))[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")
#: A cached repository's folder: `models--ORG--NAME` (huggingface_hub repo_folder_name).
_REPO_FOLDER = re.compile(r"models--([A-Za-z0-9][\w.-]*?)--([A-Za-z0-9][\w.-]*)")


@dataclass(frozen=True, kw_only=True)
class HubSettings:
    """Where the Hugging Face cache is and whether the network may be used, from the environment."""

    cache_dir: str
    """The hub cache folder: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    offline: bool
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE: the cache only."""
    offline_variable: str
    """The variable that set `offline` (for messages), or HF_HUB_OFFLINE when online."""
    token: str | None
    """HF_TOKEN, for gated and private repositories; None lets huggingface_hub use its saved token."""


@dataclass(frozen=True, kw_only=True)
class HubId:
    """A repository id with an optional revision (a branch, a tag or a commit hash)."""

    repo_id: str
    revision: str | None

    @property
    def text(self) -> str:
        """Returns the id as the user writes it: `ORG/NAME` or `ORG/NAME@REVISION`."""
        return self.repo_id if self.revision is None else f"{self.repo_id}@{self.revision}"


class HubLookupError(Exception):
    """The Hub could not give the file: `reason` says why, in a phrase for one line."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def hub_settings(environ: dict[str, str] | None = None) -> HubSettings:
    """Returns the cache folder, offline flag and token the environment sets, as huggingface_hub reads them."""
    env = os.environ if environ is None else environ
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"),
                                              "huggingface")
    cache = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE") or os.path.join(_expand(home), "hub")
    offline_variable = "HF_HUB_OFFLINE"
    offline = _is_true(env.get("HF_HUB_OFFLINE"))
    if not env.get("HF_HUB_OFFLINE") and _is_true(env.get("TRANSFORMERS_OFFLINE")):
        offline, offline_variable = True, "TRANSFORMERS_OFFLINE"
    return HubSettings(cache_dir=_expand(cache), offline=offline, offline_variable=offline_variable,
                       token=env.get("HF_TOKEN") or None)


def parse_hub_id(text: str) -> HubId | None:
    """Returns the repository id and revision of `ORG/NAME[@REVISION]`, or None when `text` is no such id."""
    repo, _, revision = text.strip().partition("@")
    if not HF_ID.fullmatch(repo) or (revision == "" and "@" in text):
        return None
    return HubId(repo_id=repo, revision=revision or None)


def cached_config(hub_id: HubId, settings: HubSettings) -> Path | None:
    """Returns the cached `config.json` of `hub_id` (its revision, else `main`), or None when not cached.

    A branch or tag revision is looked up in `refs/`, a commit hash among `snapshots/`
    (huggingface_hub.try_to_load_from_cache).
    """
    try_to_load_from_cache = _hub_module().try_to_load_from_cache
    try:
        found = try_to_load_from_cache(hub_id.repo_id, CONFIG_FILE, cache_dir=settings.cache_dir,
                                       revision=hub_id.revision or "main")
    except OSError:  # an unreadable refs/ file: as good as not cached
        return None
    return Path(found) if isinstance(found, str) else None


def download_config(hub_id: HubId, settings: HubSettings) -> Path:
    """Returns the path of `config.json` downloaded into the cache (that file alone), or raises HubLookupError."""
    hf_hub_download = _hub_module().hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        with _quiet_hub():
            path = hf_hub_download(hub_id.repo_id, filename=CONFIG_FILE, revision=hub_id.revision,
                                   cache_dir=settings.cache_dir, token=settings.token, local_files_only=False)
    except GatedRepoError:
        token = "HF_TOKEN's account has no access" if settings.token else "set HF_TOKEN"
        raise HubLookupError(f"a gated repository on the Hub ({token}: request access on its page)") from None
    except RepositoryNotFoundError:
        hint = "" if settings.token else "; for a private repository set HF_TOKEN"
        raise HubLookupError(f"no such repository on the Hub{hint}") from None
    except RevisionNotFoundError:
        raise HubLookupError(f"no revision '{hub_id.revision}' on the Hub") from None
    except OfflineModeIsEnabled:
        raise HubLookupError("huggingface_hub is in offline mode (HF_HUB_OFFLINE set when it was imported)") from None
    except LocalEntryNotFoundError:
        # hf_hub_download raises this when the Hub cannot be reached and the file is not cached.
        raise HubLookupError("the Hub could not be reached (network error) and the file is not cached") from None
    except EntryNotFoundError:
        raise HubLookupError(f"the repository has no {CONFIG_FILE}") from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        raise HubLookupError(f"the Hub answered HTTP {status or 'error'}") from None
    except (OSError, ValueError) as exc:  # connection errors, a cache folder we cannot write, a bad revision
        raise HubLookupError(f"the download failed ({type(exc).__name__}: {_one_line(str(exc))})") from None
    return Path(path)


def cached_refs(hub_id: HubId, settings: HubSettings) -> list[str]:
    """Returns the branch and tag names cached for `hub_id`'s repository (its `refs/` files), sorted."""
    refs = Path(settings.cache_dir) / ("models--" + hub_id.repo_id.replace("/", "--")) / "refs"
    if not refs.is_dir():
        return []
    return sorted(p.relative_to(refs).as_posix() for p in refs.rglob("*") if p.is_file())


def repo_id_of_cache_path(path: Path) -> tuple[str, Path] | None:
    """Returns (repo id, its `models--ORG--NAME` folder) when `path` is that folder or inside it, else None."""
    for folder in (path, *path.parents):
        match = _REPO_FOLDER.fullmatch(folder.name)
        if match:
            return f"{match.group(1)}/{match.group(2)}", folder
    return None


def snapshot_of_repo_folder(folder: Path, revision: str | None = None) -> Path | None:
    """Returns the snapshot folder a `models--ORG--NAME` folder's `refs/<revision or main>` names.

    Without that ref, the only snapshot when there is exactly one; else None.
    """
    snapshots = folder / "snapshots"
    ref = folder / "refs" / (revision or "main")
    if ref.is_file():
        commit = ref.read_text(encoding="utf-8").strip()
        return snapshots / commit if (snapshots / commit).is_dir() else None
    if revision is not None and (snapshots / revision).is_dir():
        return snapshots / revision
    if revision is None and snapshots.is_dir():
        found = sorted(p for p in snapshots.iterdir() if p.is_dir())
        if len(found) == 1:
            return found[0]
    return None


def cached_snapshots(folder: Path) -> list[str]:
    """Returns the commit names under a `models--ORG--NAME` folder's `snapshots/`, sorted."""
    snapshots = folder / "snapshots"
    return sorted(p.name for p in snapshots.iterdir() if p.is_dir()) if snapshots.is_dir() else []


def _hub_module():
    """Returns the imported huggingface_hub, or raises HubLookupError saying how to install it."""
    try:
        import huggingface_hub
    except ImportError:
        raise HubLookupError("huggingface_hub is not installed (pip install huggingface_hub)") from None
    return huggingface_hub


@contextmanager
def _quiet_hub() -> Iterator[None]:
    """Silences huggingface_hub's retry warnings and progress bar: a failure is reported in one line."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    logger = logging.getLogger("huggingface_hub")
    level, bars_were_off = logger.level, are_progress_bars_disabled()
    logger.setLevel(logging.ERROR)
    disable_progress_bars()
    try:
        yield
    finally:
        logger.setLevel(level)
        if not bars_were_off:
            enable_progress_bars()


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().upper() in _TRUE_VALUES


def _expand(path: str) -> str:
    return os.path.expandvars(os.path.expanduser(path))


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
