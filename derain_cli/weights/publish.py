"""Publishing a checkpoint to the Hugging Face Hub: its deterministic safetensors file and a model card."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from huggingface_hub import HfApi, get_token

from derain_cli import __version__
from derain_cli.errors import DerainError, UsageError
from derain_cli.weights.convert import convert_checkpoint
from derain_cli.weights.download import fetch_checkpoint
from derain_cli.weights.registry import UrlSource, WeightsEntry

HUB_FILE = "model.safetensors"
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
# weights.toml licence names -> Hugging Face licence identifiers ("unknown" when none is stated).
_HF_LICENCES = {"MIT": "mit", "Apache-2.0": "apache-2.0", "CC BY-NC-SA 4.0": "cc-by-nc-sa-4.0"}


def hub_licence(licence: str) -> str:
    """The Hugging Face licence identifier for a weights.toml licence name."""
    return _HF_LICENCES.get(licence, "unknown")


def require_token(token: str | None = None) -> str:
    """``token``, else the one huggingface_hub finds (``HF_TOKEN``, ``hf auth login``); an error when none."""
    token = token or get_token()
    if not token:
        raise DerainError(
            "publishing needs a Hugging Face token with write access: run `hf auth login`, set HF_TOKEN or pass --token"
        )
    return token


def model_card(entry: WeightsEntry, repo: str, sha256: str) -> str:
    """The README.md of the Hub repository: what the file is, where it comes from, licence and attribution."""
    params = entry.parameter_count()
    size = f", {params:,} parameters" if params else ""
    originals = [s for s in entry.sources if isinstance(s, UrlSource)]
    origin = "".join(f"- `{s.url}` (sha256 `{s.sha256}`)\n" for s in originals) or "- (no upstream file)\n"
    licence = (
        f"{entry.licence}, as stated by the authors."
        if hub_licence(entry.licence) != "unknown"
        else "The authors state no licence: all rights remain with them. This copy is shared for research "
        "reproducibility; ask the authors before any other use."
    )
    score = (
        f"Rain100H test, Y-channel PSNR / SSIM: **{entry.rain100h}** (`{entry.rain100h.command}`)"
        if entry.rain100h
        else "Rain100H test: not measured yet"
    )
    return f"""---
license: {hub_licence(entry.licence)}
library_name: derain-cli
pipeline_tag: image-to-image
tags:
- image-deraining
- image-restoration
- {entry.architecture}
---

# {entry.name}

{entry.description}

- Architecture: `{entry.architecture}` in derain-cli{size}
- Trained on: {entry.trained_on}
- {score}
- File: `{HUB_FILE}`, sha256 `{sha256}`

## Use

With derain-cli installed:

```bash
derain image rainy.jpg -o derained.png --model {entry.name}
```

`derain` fetches this file from `{repo}` and checks its sha256 before use.

## Origin

The authors' checkpoint, converted with `derain weights convert` (derain-cli {__version__}): the same
tensors under the same names (`module.` prefix removed), stored as safetensors with the
architecture in its metadata. The original file:

{origin}
## Licence and attribution

{licence}

{entry.attribution}
"""


def prepare_upload(entry: WeightsEntry, repo: str, src: str | os.PathLike[str], folder: Path) -> str:
    """Write ``model.safetensors`` (converted from ``src``) and ``README.md`` into ``folder``; returns the sha256.

    The conversion must have the sha256 weights.toml records for the entry's Hub source, or users
    would reject the published file.
    """
    sha256 = convert_checkpoint(src, folder / HUB_FILE, entry.architecture, entry.options)
    hub = entry.hub_source
    if hub is not None and sha256 != hub.sha256:
        raise DerainError(
            f"{src}: converts to sha256 {sha256}, but weights.toml expects {hub.sha256} for {hub.label}; "
            "publishing it would fail every user's verification"
        )
    (folder / "README.md").write_text(model_card(entry, repo, sha256), encoding="utf-8")
    return sha256


def publish(
    entry: WeightsEntry, repo: str, src: str | os.PathLike[str] | None = None, token: str | None = None
) -> str:
    """Upload ``entry`` to ``repo`` (created if needed): the converted file and its card, in one commit.

    ``src`` defaults to the entry's checkpoint fetched through the registry. Returns the commit URL.
    """
    token = require_token(token)
    if not _REPO_ID.fullmatch(repo):
        raise UsageError(f"--repo {repo!r}: expected ORG/NAME")
    src = src if src is not None else fetch_checkpoint(entry)
    with tempfile.TemporaryDirectory() as folder:
        prepare_upload(entry, repo, src, Path(folder))
        api = HfApi(token=token)
        api.create_repo(repo, repo_type="model", exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo, folder_path=folder, commit_message=f"{entry.name} via derain-cli {__version__}"
        )
    return commit.commit_url
