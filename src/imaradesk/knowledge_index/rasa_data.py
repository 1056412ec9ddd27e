"""Reading Rasa training data (``nlu.yml``, ``domain.yml``, rules and stories) into entries.

Rasa keeps what a customer says (intents and their examples, in NLU files) apart from what the
bot answers (``utter_*`` responses, in the domain), so the files are read together and in any
order: each file is recognised by its top-level keys, not its name. Every intent that has both
examples and a text response becomes one entry of kind ``intent`` whose external id is the
intent's name, so that a Rasa server's intent names the entry that answers it.

The answer of an intent is its ``utter_<intent>`` response, else the response that the rules or
stories always run right after it. Intents with examples and no answer are reported as warnings,
never dropped silently. Lookup tables and regexes only help Rasa's entity extraction; they are
skipped with a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imaradesk.knowledge_index.documents import (
    MAX_ANSWER_CHARS,
    MAX_FILE_BYTES,
    MAX_ID_CHARS,
    MAX_QUESTION_CHARS,
    ImportFormatError,
    ParsedDocument,
    normalise_question,
)
from imaradesk.knowledge_index.drafts import EntryDraft
from imaradesk.knowledge_index.yaml_lines import LinedMap, line_of, load_yaml

RASA_SUFFIXES = (".yml", ".yaml")
_RASA_KEYS = {"nlu", "responses", "intents", "rules", "stories"}
# Rasa's response texts fill slots as "{name}"; one example's synonym variants are capped so
# that a few rich synonyms cannot multiply one phrasing into hundreds.
MAX_VARIANTS_PER_EXAMPLE = 8
# [Nairobi](city), [NBO](city:Nairobi) (Rasa 1), [NBO]{"entity": "city", "value": "Nairobi"}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]\n]+)\](?:\((?P<paren>[^)\n]*)\)|(?P<json>\{[^}\n]*\}))")


@dataclass
class RasaImport:
    """What a set of Rasa files yields: one document per NLU file, and what was left out."""

    documents: list[ParsedDocument]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Intent:
    name: str
    source: str
    line: int
    examples: list[str] = field(default_factory=list)


@dataclass
class _Collected:
    intents: dict[str, _Intent] = field(default_factory=dict)
    domain_intents: dict[str, tuple[str, int]] = field(default_factory=dict)
    # response name -> (first text, source, line)
    responses: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    # intent -> utter actions that rules or stories run right after it
    followed_by: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, set[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# -- public entry points ---------------------------------------------------------------------


def is_rasa_path(path: Path) -> bool:
    """Whether ``kb import`` should read this file as Rasa training data (by its suffix)."""
    return path.suffix.lower() in RASA_SUFFIXES


def load_rasa_files(paths: Sequence[Path]) -> RasaImport:
    """Read Rasa files (NLU data, domain, rules, stories) together, in any order."""
    if not paths:
        raise ImportFormatError("(no files)", 0, "name at least one Rasa file")
    named: list[tuple[str, bytes]] = []
    names = [p.name for p in paths]
    for path in paths:
        # Two files called nlu.yml in different folders must stay two sources.
        source = path.name if names.count(path.name) == 1 else str(path)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise ImportFormatError(source, 0, f"cannot read file: {e.strerror}") from e
        if size > MAX_FILE_BYTES:
            raise ImportFormatError(source, 0, f"file is larger than {MAX_FILE_BYTES // 2**20} MiB")
        named.append((source, path.read_bytes()))
    return parse_rasa(named)


def parse_rasa(files: Iterable[tuple[str, bytes]]) -> RasaImport:
    """Parse ``(source name, bytes)`` pairs of Rasa YAML into entry drafts and warnings."""
    collected = _Collected()
    sources: list[str] = []
    for source, data in files:
        sources.append(source)
        document = load_yaml(data, source)
        if not isinstance(document, dict) or not (_RASA_KEYS & set(document)):
            raise ImportFormatError(
                source,
                line_of(document),
                "not Rasa training data: expected nlu, responses, intents, rules or stories",
            )
        _read_nlu(document, source, collected)
        _read_domain(document, source, collected)
        for key in ("rules", "stories"):
            _read_flows(document, key, source, collected)
    return _build(collected, ", ".join(sources) or "(no files)")


# -- NLU data ---------------------------------------------------------------------------------


def _read_nlu(document: dict[str, Any], source: str, out: _Collected) -> None:
    items = document.get("nlu")
    if items is None:
        return
    if not isinstance(items, list):
        raise ImportFormatError(source, line_of(document, "nlu"), "'nlu' must be a list")
    for item in items:
        if not isinstance(item, dict):
            raise ImportFormatError(
                source, line_of(document, "nlu"), "each 'nlu' item is a mapping"
            )
        line = line_of(item)
        if "intent" in item:
            name = _name(item["intent"], source, line, "intent")
            examples = _examples(item, source)
            intent = out.intents.get(name)
            if intent is None:
                intent = out.intents[name] = _Intent(name, source, line)
            elif intent.source != source:
                out.warnings.append(
                    f"{source}, line {line}: more examples of intent {name!r}, kept with the "
                    f"entry from {intent.source}"
                )
            for text, example_line in examples:
                plain = _strip_annotations(text, source, example_line, out)
                if len(plain) > MAX_QUESTION_CHARS:
                    raise ImportFormatError(
                        source,
                        example_line,
                        f"an example is longer than {MAX_QUESTION_CHARS} characters",
                    )
                if plain:
                    intent.examples.append(plain)
        elif "synonym" in item:
            value = _name(item["synonym"], source, line, "synonym")
            group = out.synonyms.setdefault(value, set())
            group.update(text for text, _ in _examples(item, source) if text)
        elif "lookup" in item or "regex" in item:
            kind = "lookup" if "lookup" in item else "regex"
            out.warnings.append(
                f"{source}, line {line}: {kind} {item[kind]!r} skipped (it only helps Rasa find "
                "entities; ImaraDesk does not extract entities)"
            )
        else:
            keys = ", ".join(sorted(str(k) for k in item)) or "nothing"
            raise ImportFormatError(
                source,
                line,
                f"an 'nlu' item must name an intent, synonym, lookup or regex ({keys})",
            )


def _name(value: Any, source: str, line: int, what: str) -> str:
    if not isinstance(value, str | int | float) or not str(value).strip():
        raise ImportFormatError(source, line, f"the {what} name must be a non-empty string")
    name = str(value).strip()
    if len(name) > MAX_ID_CHARS:
        raise ImportFormatError(source, line, f"the {what} name is longer than {MAX_ID_CHARS}")
    return name


def _examples(item: dict[str, Any], source: str) -> list[tuple[str, int]]:
    """The examples of an item: Rasa's "- text" block, or a list of texts or {text: ...}."""
    raw = item.get("examples")
    first = line_of(item, "examples")
    if raw is None:
        raise ImportFormatError(source, line_of(item), "the item has no 'examples'")
    if isinstance(raw, str):
        block = isinstance(item, LinedMap) and item.value_styles.get("examples") in ("|", ">")
        offset = first + 1 if block else first
        out: list[tuple[str, int]] = []
        for i, line_text in enumerate(raw.splitlines()):
            stripped = line_text.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                raise ImportFormatError(
                    source, offset + i, f"an example must start with '- ' (found {stripped[:40]!r})"
                )
            out.append((stripped[1:].strip(), offset + i))
        return out
    if isinstance(raw, list):
        out = []
        for entry in raw:
            text = entry.get("text") if isinstance(entry, dict) else entry
            if not isinstance(text, str):
                raise ImportFormatError(
                    source, line_of(entry) or first, "each example must be text or {text: ...}"
                )
            out.append((text.strip(), line_of(entry) or first))
        return out
    raise ImportFormatError(source, first, "'examples' must be a '- text' block or a list")


def _strip_annotations(text: str, source: str, line: int, out: _Collected) -> str:
    """ "[Nairobi](city)" -> "Nairobi"; an annotation with a value is also a synonym."""

    def replace(match: re.Match[str]) -> str:
        shown = match.group("text")
        value: str | None = None
        if match.group("paren") is not None:
            entity, _, mapped = match.group("paren").partition(":")
            value = mapped.strip() or None
        else:
            try:
                spec = json.loads(match.group("json"))
            except json.JSONDecodeError as e:
                raise ImportFormatError(
                    source, line, f"malformed entity annotation {match.group(0)!r}"
                ) from e
            if isinstance(spec, dict) and isinstance(spec.get("value"), str):
                value = spec["value"].strip() or None
        if value and value.casefold() != shown.casefold():
            out.synonyms.setdefault(value, set()).add(shown)
        return shown

    return re.sub(r"\s+", " ", _ANNOTATION.sub(replace, text)).strip()


# -- domain ------------------------------------------------------------------------------------


def _read_domain(document: dict[str, Any], source: str, out: _Collected) -> None:
    intents = document.get("intents")
    if intents is not None:
        if not isinstance(intents, list):
            raise ImportFormatError(
                source, line_of(document, "intents"), "'intents' must be a list"
            )
        for item in intents:
            # "- greet" or "- greet: {use_entities: []}"
            name = next(iter(item), None) if isinstance(item, dict) else item
            line = line_of(item) or line_of(document, "intents")
            out.domain_intents.setdefault(_name(name, source, line, "intent"), (source, line))
    responses = document.get("responses")
    if responses is None:
        return
    if not isinstance(responses, dict):
        raise ImportFormatError(
            source, line_of(document, "responses"), "'responses' must be a mapping"
        )
    for name, variants in responses.items():
        line = line_of(responses, str(name))
        if not isinstance(variants, list):
            raise ImportFormatError(source, line, f"response {name!r} must be a list of variants")
        text = _first_text(variants)
        if text is None:
            out.warnings.append(
                f"{source}, line {line}: response {name!r} has no text variant (buttons, images "
                "and custom payloads are not imported)"
            )
            continue
        if len(text) > MAX_ANSWER_CHARS:
            raise ImportFormatError(
                source, line, f"response {name!r} is longer than {MAX_ANSWER_CHARS} characters"
            )
        out.responses[str(name)] = (text, source, line)


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement for ``re.sub`` that inserts ``text`` as it is (no group references)."""
    return lambda _match: text


def _first_text(variants: list[Any]) -> str | None:
    """The first text variant meant for every channel, else the first text variant at all."""
    texts = [v for v in variants if isinstance(v, dict) and isinstance(v.get("text"), str)]
    general = [v for v in texts if not v.get("channel") and not v.get("condition")]
    candidates = general or texts
    chosen = candidates[0] if candidates else None
    return chosen["text"].strip() if chosen and chosen["text"].strip() else None


# -- rules and stories ---------------------------------------------------------------------


def _read_flows(document: dict[str, Any], key: str, source: str, out: _Collected) -> None:
    flows = document.get(key)
    if flows is None:
        return
    if not isinstance(flows, list):
        raise ImportFormatError(source, line_of(document, key), f"'{key}' must be a list")
    for flow in flows:
        steps = flow.get("steps") if isinstance(flow, dict) else None
        if not isinstance(steps, list):
            continue  # checkpoints and OR-blocks are not answers of an intent
        for step, after in zip(steps, steps[1:], strict=False):
            intent = step.get("intent") if isinstance(step, dict) else None
            action = after.get("action") if isinstance(after, dict) else None
            if isinstance(intent, str) and isinstance(action, str) and action.startswith("utter_"):
                out.followed_by.setdefault(intent, []).append(action)


# -- building entries ------------------------------------------------------------------------


def _answer_for(name: str, collected: _Collected) -> tuple[str | None, str | None]:
    """The answer text and, when it is ambiguous or missing, why."""
    own = collected.responses.get(f"utter_{name}")
    if own is not None:
        return own[0], None
    actions = list(dict.fromkeys(collected.followed_by.get(name, [])))
    known = [a for a in actions if a in collected.responses]
    if len(known) == 1:
        return collected.responses[known[0]][0], None
    if len(known) > 1:
        return None, f"rules or stories answer it with several responses ({', '.join(known)})"
    if actions:
        return None, f"its response {actions[0]} has no text in the domain"
    return None, f"no response utter_{name} in the domain and no rule or story answers it"


def _category(name: str) -> str | None:
    # Retrieval intents ("faq/ask_fees") group their sub-intents; the group is the category.
    group, slash, _ = name.partition("/")
    return group if slash and group else None


def _expand(examples: list[str], synonyms: dict[str, set[str]]) -> list[str]:
    """The examples, then each with a synonym group's other members in place of one it has."""
    groups = [{value, *alternatives} for value, alternatives in synonyms.items()]
    phrasings: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        key = normalise_question(text)
        if key and key not in seen:
            seen.add(key)
            phrasings.append(text)

    for example in examples:
        add(example)
    for example in examples:
        variants = 0
        for group in groups:
            for member in sorted(group, key=len, reverse=True):
                pattern = re.compile(rf"(?<!\w){re.escape(member)}(?!\w)", re.IGNORECASE)
                if not pattern.search(example):
                    continue
                for other in sorted(group - {member}):
                    if variants >= MAX_VARIANTS_PER_EXAMPLE:
                        break
                    before = len(phrasings)
                    add(pattern.sub(_literal(other), example))
                    variants += len(phrasings) - before
                break  # one member per group and example
    return phrasings


def _build(collected: _Collected, sources: str) -> RasaImport:
    warnings = list(collected.warnings)
    drafts_by_source: dict[str, list[EntryDraft]] = {}
    for name, intent in collected.intents.items():
        if not intent.examples:
            warnings.append(
                f"{intent.source}, line {intent.line}: intent {name!r} has no examples; skipped"
            )
            continue
        answer, why = _answer_for(name, collected)
        if answer is None:
            warnings.append(f"{intent.source}, line {intent.line}: intent {name!r} skipped: {why}")
            continue
        if "{" in answer and re.search(r"\{\w+\}", answer):
            warnings.append(
                f"{intent.source}, line {intent.line}: the answer of intent {name!r} names a slot "
                "({...}); it is shown as written"
            )
        drafts_by_source.setdefault(intent.source, []).append(
            EntryDraft(
                external_id=name,
                questions=tuple(_expand(intent.examples, collected.synonyms)),
                answer=answer,
                category=_category(name),
                line=intent.line,
                kind="intent",
            )
        )
    groups = {_category(name) for name in collected.intents}
    for name, (source, line) in collected.domain_intents.items():
        # A retrieval intent ("faq") is listed in the domain by its group only.
        if name not in collected.intents and name not in groups:
            warnings.append(
                f"{source}, line {line}: intent {name!r} is in the domain but has no examples in "
                "the NLU data given; skipped"
            )
    if not collected.intents:
        raise ImportFormatError(
            sources, 0, "no intents with examples found: name the NLU file (nlu.yml) too"
        )
    if not drafts_by_source:
        hint = "" if collected.responses else ": name the domain file (domain.yml) too"
        raise ImportFormatError(
            sources, 0, f"none of the {len(collected.intents)} intents has a text response{hint}"
        )
    documents = [ParsedDocument(source, tuple(d)) for source, d in drafts_by_source.items()]
    return RasaImport(documents, warnings)
