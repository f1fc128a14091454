"""Back-translation (Sennrich et al. 2016, ACL; as data augmentation for text classification e.g.
Xie et al. 2020, UDA): each training text translated into a pivot language and back, one copy per
text (decoding without sampling, so the copy is a function of the text and the models).

The two models (augment.back_translation.models: [forward, backward], e.g. MarianMT English->German
and German->English) come from disk only, named as encoders are (lhmix.model.encoders.resolve: a
local directory or a hub name in the local Hugging Face cache); nothing is downloaded.
"""
from __future__ import annotations

from lhmix.core.errors import LhmixError, ParamError
from lhmix.model.encoders import resolve

MODELS = "augment.back_translation.models"
BATCH_SIZE = 16
NOT_NAMED = (f"no translation models named ({MODELS} is null); name a pair [forward, backward], e.g. "
             "MarianMT English->German and German->English, as local directories or hub names in the local "
             "Hugging Face cache (nothing is downloaded)")


def check_models(value) -> list[str] | None:
    """The [forward, backward] pair of the params, or None when none is named."""
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(n, str) and n for n in value)):
        raise ParamError(MODELS, value, "null or a list of two model names [forward, backward]")
    return value


def missing_reason(models: list[str] | None) -> str | None:
    """Why back-translation cannot run here with `models`, or None when both are on disk."""
    if models is None:
        return NOT_NAMED
    for name in models:
        try:
            resolve(name)
        except LhmixError as error:
            return f"{MODELS}: {error}"
    return None


class Translator:
    """A sequence-to-sequence model and its tokenizer, translating lists of texts in batches."""

    def __init__(self, name: str, max_length: int):
        import torch
        import transformers

        location = resolve(name)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(location), local_files_only=True)
            self.model = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(location), local_files_only=True)
        except (OSError, ValueError, KeyError) as error:
            raise LhmixError(f"{MODELS}: '{name}' ({location}) is not a translation model that loads "
                             f"offline ({type(error).__name__}: {error})") from None
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.max_length = max_length

    def __call__(self, texts: list[str]) -> list[str]:
        import torch

        out = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = self.tokenizer(texts[start:start + BATCH_SIZE], truncation=True, max_length=self.max_length,
                                   padding=True, return_tensors="pt")
            with torch.inference_mode():
                generated = self.model.generate(input_ids=batch["input_ids"].to(self.device),
                                                attention_mask=batch["attention_mask"].to(self.device),
                                                max_new_tokens=self.max_length, do_sample=False)
            out += [text.strip() for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)]
        return out


def back_translation_augmenter(models: list[str], max_length: int):
    """texts -> each text's back-translation; a text that comes back empty gets no copy."""
    forward, backward = (Translator(name, max_length) for name in models)

    def copies(texts: list[str]) -> list[list[str]]:
        return [[text] if text else [] for text in backward(forward(texts))]
    return copies
