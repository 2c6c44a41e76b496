"""Load and check a study config.

The JSON schema (workflow/schemas/config.schema.yaml) checks shapes and types and rejects
unknown keys; ``check_config`` adds what a schema cannot say (splits and languages a benchmark
offers, layer maps, warm-up, gallery size, local paths). Every problem is one sentence that
names the key. Shared by the Snakefile and the scripts, so a bad config stops before any job.
``apply_removals`` runs first (an overlay's null and ``drop:``); ``config_warnings`` lists what runs
but may not be meant.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import math
import os
import re
from pathlib import Path

import yaml

from mvlm_distill.definitions import METRICS, RETRIEVAL_TASKS, default_layer_map
from mvlm_distill.data.languages import resource_groups
from mvlm_distill.paths import parse_student

#: the files the package reads, inside it (package data, so an installed package has them); in a
#: checkout each is a link to its one source: config.schema.yaml to workflow/schemas/ (what Snakemake
#: validates with), config.yaml to the default study's config (quickstart's settings), recipe.yaml to
#: teachers/recipe.yaml (the shipped teachers' recipe)
RESOURCES = Path(__file__).resolve().parent / "resources"
SCHEMA_PATH = RESOURCES / "config.schema.yaml"
DEFAULT_CONFIG = RESOURCES / "config.yaml"


class ConfigError(ValueError):
    """A study config that cannot run; the message is one sentence naming the key."""


def load_yaml(path: str | Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found.") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: YAML does not parse{where}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values.")
    return data


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    """Check one config file (plus top-level overrides); an error names the file and the key."""
    config = load_yaml(path)
    config.update(overrides or {})
    try:
        return check_config(apply_removals(config))
    except ConfigError as err:
        source = error_source(err, [path], overrides)
        raise ConfigError(f"{source}: {err}" if source else str(err)) from None


# --------------------------------------------------------------------------- overlays

#: what ``drop:`` removes: the list (or mapping) and what an entry is called
DROP = {"methods": "method", "models": "model", "languages": "language", "seeds": "seed"}


def apply_removals(config: dict) -> dict:
    """A merged config without what an overlay removes: a key set to null, and each name ``drop`` lists.

    Snakemake merges mappings key by key, so an overlay cannot leave a method out by not listing it;
    ``methods: {FD: null}`` or ``drop: {methods: [FD]}`` (``--config drop='{models: [toy-siglip2]}'``) can.
    """
    config = _without_nulls(config)
    drop = config.pop("drop", None)
    if drop is None:
        return config
    if not isinstance(drop, dict):
        raise ConfigError(f"drop: expected a mapping such as {{methods: [FD, SD]}}, got {drop!r}.")
    for block, names in drop.items():
        if block not in DROP:
            close = _closest(block, DROP)
            hint = f"the closest allowed key is {close!r}" if close else f"allowed keys: {', '.join(DROP)}"
            raise ConfigError(f"drop.{block}: unknown key; {hint}.")
        names = names if isinstance(names, list) else [names]
        entries = config.get(block) or []
        present = [str(e["name"] if block == "models" and isinstance(e, dict) else e) for e in entries]
        for name in names:
            if str(name) not in present:
                raise ConfigError(f"drop.{block}: {name!r} is not a configured {DROP[block]}{_closest_hint(str(name), present)}; "
                                  f"configured: {', '.join(present)}.")
        wanted = {str(n) for n in names}
        if isinstance(entries, dict):
            config[block] = {k: v for k, v in entries.items() if str(k) not in wanted}
        else:
            config[block] = [e for e, shown in zip(entries, present) if shown not in wanted]
    return config


def _without_nulls(node):
    if not isinstance(node, dict):
        return node
    return {k: _without_nulls(v) for k, v in node.items() if v is not None}


# --------------------------------------------------------------------------- messages

def _key_path(error) -> str:
    return _join_key(tuple(error.absolute_path)) or "(top level)"


def _join_key(parts) -> str:
    key = ""
    for part in parts:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _closest(word: str, allowed) -> str | None:
    """The allowed name a typo most likely meant (case and separators ignored), if any is close."""
    def bare(name) -> str:
        return re.sub(r"[-_. ]", "", str(name).lower())

    scored = [(difflib.SequenceMatcher(None, bare(word), bare(a)).ratio(), str(a)) for a in allowed]
    best = max(scored, default=(0.0, None), key=lambda pair: pair[0])
    return best[1] if best[0] >= 0.6 else None


def _closest_hint(word: str, allowed) -> str:
    close = _closest(word, allowed)
    return f" (closest: {close!r})" if close else ""


def _bool_hint(value: bool) -> str:
    words, example = ("no, off or n", "no") if value is False else ("yes, on or y", "yes")
    return f"YAML reads an unquoted {words} as {str(value).lower()}, so quote it (\"{example}\") to mean the text"


# Keys of earlier versions, with what replaced them (a config that still sets one is told why).
REMOVED_KEYS = {
    "evaluation.significance_resamples": "the paired tests are exact, without resampling (docs/analysis.md); remove it",
}


def _schema_error_sentence(error) -> str:
    key = _key_path(error)
    validator = error.validator
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        where = f"{key}." if key != "(top level)" else ""
        return f"{where}{missing}: required key is missing."
    if validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        name = _join_key((*error.absolute_path, extra[0]))
        if name in REMOVED_KEYS:
            return f"{name}: no longer used; {REMOVED_KEYS[name]}."
        nested = _nested_keys(extra[0], error.schema) if not error.absolute_path else []
        if nested:
            where = " or ".join(filter(None, [", ".join(nested[:-1]), nested[-1]]))
            return f"{name}: not a top-level key; put it under its block: {where}."
        close = _closest(extra[0], allowed)
        if close:
            return f"{name}: unknown key; the closest allowed key is {close!r}."
        return f"{name}: unknown key; allowed keys: {', '.join(allowed)}."
    if validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        hint = _closest_hint(error.instance, error.validator_value) if isinstance(error.instance, str) else ""
        return f"{key}: {error.instance!r} is not allowed{hint}; allowed values: {allowed}."
    if validator == "type":
        if isinstance(error.instance, bool) and error.validator_value == "string":
            return f"{key}: got {str(error.instance).lower()}, not a text; {_bool_hint(error.instance)}."
        return f"{key}: expected {error.validator_value}, got {error.instance!r}."
    if validator == "minLength" and error.instance == "":
        return f"{key}: must not be empty."
    if validator in ("minItems", "minProperties"):
        return f"{key}: must not be empty."
    if validator == "uniqueItems":
        return f"{key}: has duplicate entries."
    if validator == "pattern":
        return f"{key}: {error.instance!r} does not match the pattern {error.validator_value!r}."
    if validator == "not" and "teacher" in str(error.validator_value):
        return f"{key}: 'teacher' and 'init' are reserved names of the reference rows."
    if validator == "propertyNames":
        return f"{key}: {error.instance!r} is not a valid name."
    return f"{key}: {error.message}."


def _nested_keys(key: str, root: dict) -> list[str]:
    """Where a block of the schema takes ``key`` (``steps`` -> distillation.steps), for a misplaced key."""
    found = []
    for block, sub in root.get("properties", {}).items():
        if key in sub.get("properties", {}):
            found.append(f"{block}.{key}")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and key in extra.get("properties", {}):
            found.append(f"{block}.<name>.{key}")
        if key in sub.get("items", {}).get("properties", {}):
            found.append(f"{block}[i].{key}")
    return found


def error_line(err: ConfigError, files=(), overrides=None) -> str:
    """``Config error in <file>: <sentence>``: the file is the last one that sets the key named first."""
    source = error_source(err, files, overrides)
    text = str(err)
    if re.fullmatch(r"\w+: required key is missing\.", text):  # a top-level block: the file is not merged
        text = text[:-1] + (" (a --configfile replaces config.yaml; to merge a file over it, list both: "
                            "--configfile config.yaml yours.yaml).")
    return f"Config error in {source}: {text}" if source else f"Config error: {text}"


def error_source(err: ConfigError, files, overrides=None) -> str | None:
    """``--config`` or the last of ``files`` that sets the key the message starts with (None: a default)."""
    key = str(err).split(": ", 1)[0]
    parts = [int(i) if i else name for name, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", key)]
    if not parts:
        return None
    if overrides and _sets(overrides, parts):
        return "--config"
    for path in reversed(list(files)):
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except (OSError, yaml.YAMLError):
            continue
        if _sets(data, parts):
            return _shown_path(path)
    return None


def _sets(node, parts) -> bool:
    """Whether a merged file decides the key: it sets it, or replaces a list or value that holds it
    (Snakemake merges mappings key by key but replaces lists whole)."""
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, dict):
            return True
    return True


def _shown_path(path) -> str:
    """Relative to the working directory when inside it (no machine paths in messages)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- YAML quirks

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _resolve_ref(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref", "")
    if ref.startswith("#/"):
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        return node
    return schema


def _read_yaml_quirks(instance, schema: dict, root: dict, path: tuple = ()):
    """A copy with YAML 1.1's strings of numbers (``1e-3``) as numbers; refuses non-text keys (``no:``)."""
    schema = _resolve_ref(schema, root)
    if isinstance(instance, dict):
        out = {}
        for k, v in instance.items():
            if not isinstance(k, str):
                where = _join_key(path) or "(top level)"
                hint = _bool_hint(k) if isinstance(k, bool) else "quote it to mean the text"
                raise ConfigError(f"{where}: the key {str(k).lower() if isinstance(k, bool) else k} is not a text; {hint}.")
            sub = schema.get("properties", {}).get(k)
            if sub is None:
                extra = schema.get("additionalProperties")
                sub = extra if isinstance(extra, dict) else {}
            out[k] = _read_yaml_quirks(v, sub, root, (*path, k))
        return out
    if isinstance(instance, list):
        items = schema.get("items", {})
        return [_read_yaml_quirks(v, items, root, (*path, i)) for i, v in enumerate(instance)]
    kind = schema.get("type")
    if isinstance(instance, str) and kind in ("number", "integer") and _NUMBER.fullmatch(instance.strip()):
        value = float(instance)
        if kind == "number":
            return value
        if value.is_integer():
            return int(value)
    return instance


def validate_schema(config: dict, schema_path: str | Path = SCHEMA_PATH) -> dict:
    """Validate against the JSON schema, fill the defaults of its nested ``properties``, raise
    ConfigError on the first problem."""
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    config = _read_yaml_quirks(config, schema, schema)
    _refuse_option_as_benchmark(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        # best_match prefers deep errors inside propertyNames; keep the key path readable
        raise ConfigError(_schema_error_sentence(best))
    _refuse_non_finite(config)
    _fill_defaults(config, schema)
    return config


def _refuse_option_as_benchmark(config: dict, schema: dict) -> None:
    """``n_images`` right under ``benchmarks:`` would be read as a benchmark named n_images."""
    benches = config.get("benchmarks")
    if not isinstance(benches, dict):
        return
    options = schema["properties"]["benchmarks"]["additionalProperties"]["properties"]
    names = [n for n in benches if n not in options] or ["<name>"]
    for name in benches:
        if name in options:
            raise ConfigError(f"benchmarks.{name}: {name} is an option of a benchmark, not a benchmark; "
                              f"put it under the benchmark it is for, e.g. benchmarks.{names[0]}.{name}.")


def _refuse_non_finite(node, path: tuple = ()) -> None:
    """.nan and .inf pass every range check of the schema and fail only in a job, without the key."""
    if isinstance(node, dict):
        for k, v in node.items():
            _refuse_non_finite(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _refuse_non_finite(v, (*path, i))
    elif isinstance(node, float) and not math.isfinite(node):
        shown = ".nan" if math.isnan(node) else (".inf" if node > 0 else "-.inf")
        raise ConfigError(f"{_join_key(path)}: {shown} is not a finite number.")


def _fill_defaults(instance, schema) -> None:
    """The defaults of the schema's nested ``properties`` (top-level blocks and their keys)."""
    if not isinstance(instance, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)


def _set_defaults(validator, properties, instance, schema):
    """The ``properties`` keyword of a validator that also fills defaults, wherever the schema
    reaches (the jsonschema FAQ's recipe, which ``snakemake.utils.validate`` uses)."""
    import jsonschema

    if isinstance(instance, dict):
        for key, sub in properties.items():
            if "default" in sub:
                instance.setdefault(key, copy.deepcopy(sub["default"]))
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)


def _fill_all_defaults(config: dict, schema_path: str | Path) -> None:
    """Every default the schema gives, in list items and named blocks too (``models[].trust_remote_code``,
    ``benchmarks.<name>.download``), as ``snakemake.utils.validate`` fills them: the rules' params, and so
    what a finished study reruns, depend on these values. After the semantic checks, which name the
    keys a user wrote (a filled ``download`` is no key of a synthetic benchmark)."""
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    filler = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": _set_defaults})
    filler(schema).validate(config)


# --------------------------------------------------------------------------- benchmarks

def _adapter(benchmark: dict):
    from mvlm_distill.data import adapters

    return adapters.ADAPTERS.get(benchmark["kind"])


def offered_languages(name: str, benchmark: dict) -> list[str] | None:
    """Languages a configured benchmark offers (None when only the data can tell)."""
    if benchmark.get("languages"):
        return list(benchmark["languages"])
    if benchmark["kind"] == "synthetic":
        from mvlm_distill.data import lexicon

        return list(lexicon.LANGUAGES)
    adapter = _adapter(benchmark)
    if adapter is None:
        return None
    split = inspect.signature(adapter.prepare).parameters.get("split")
    split = benchmark.get("split") or (split.default if split else None)
    by_split = getattr(adapter.module, "SPLIT_LANGUAGES", {})  # a release whose splits differ in languages
    return list(by_split.get(split, adapter.languages))


def synthetic_splits() -> tuple[str, ...]:
    """The splits the synthetic benchmark knows (``n_images`` keys)."""
    from mvlm_distill.data.synthetic import DEFAULT_N_IMAGES

    return tuple(DEFAULT_N_IMAGES)


def benchmark_splits(benchmark: dict) -> list[str]:
    """The captioned splits a configured benchmark will hold once prepared (the synthetic VQA splits
    have images and questions but no captions, so they can be neither evaluated nor distilled on)."""
    if benchmark["kind"] == "synthetic":
        from mvlm_distill.data.synthetic import VQA_SPLITS

        return [s for s in benchmark.get("n_images") or synthetic_splits() if s not in VQA_SPLITS.values()]
    return [_adapter(benchmark).benchmark_split(benchmark.get("split"))]


def largest_k() -> int:
    """The largest cut-off of the retrieval metrics (R@10 -> 10): a test gallery must be larger."""
    return max(int(metric.split("@")[1]) for task in RETRIEVAL_TASKS for metric in METRICS[task])


def _check_benchmark(name: str, bench: dict) -> None:
    key = f"benchmarks.{name}"
    from mvlm_distill.data import prepare

    if bench["kind"] == "synthetic":
        foreign = [k for k in bench if k not in ("kind", *prepare.SYNTHETIC_KEYS)]
        if foreign:
            raise ConfigError(f"{key}.{foreign[0]}: not a key of the synthetic benchmark; it takes "
                              f"{', '.join(prepare.SYNTHETIC_KEYS)}.")
        known = synthetic_splits()
        for split in bench.get("n_images", {}):
            if split not in known:
                hint = _closest_hint(split, known)
                raise ConfigError(f"{key}.n_images.{split}: not a split of the synthetic benchmark{hint}; "
                                  f"allowed: {', '.join(known)}.")
        return
    adapter = _adapter(bench)
    if adapter is None:
        from mvlm_distill.data import adapters

        raise ConfigError(f"{key}.kind: {bench['kind']!r} has no preparation step yet; use synthetic or one of "
                          f"the dataset adapters ({', '.join(adapters.ADAPTERS)}).")
    foreign = [k for k in bench if k not in ("kind", *prepare.ADAPTER_KEYS)]
    if foreign:
        raise ConfigError(f"{key}.{foreign[0]}: only the synthetic benchmark takes {foreign[0]}; "
                          f"a {bench['kind']} benchmark takes {', '.join(prepare.ADAPTER_KEYS)}.")
    release = adapter.release_splits
    if "split" in bench and release is not None and bench["split"] not in release:
        hint = _closest_hint(bench["split"], release)
        raise ConfigError(f"{key}.split: {bench['split']!r} is not a split of the {bench['kind']} release{hint}; "
                          f"allowed: {', '.join(release)}.")
    params = inspect.signature(adapter.prepare).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        own = ("source", "out_dir", "images_dir", *prepare.ADAPTER_ARGUMENTS)
        allowed = [p for p in params if p not in own]
        for option in bench.get("options", {}):
            if option not in allowed:
                hint = _closest_hint(option, allowed)
                raise ConfigError(f"{key}.options.{option}: not an option of the {bench['kind']} adapter{hint}; "
                                  f"allowed: {', '.join(allowed)}.")


def _refuse_captionless_split(key: str, split: str, name: str, benchmark: dict, captioned: list[str]) -> None:
    if benchmark["kind"] == "synthetic" and split in (benchmark.get("n_images") or synthetic_splits()) \
            and split not in captioned:
        raise ConfigError(f"{key}: {split!r} of benchmark {name!r} has no captions (its images are the ones the "
                          f"VQA questions ask about); pick one of {', '.join(captioned)}.")


def _check_splits(config: dict) -> None:
    """Evaluation and corpus splits exist, galleries beat the largest k, no silent training on test images."""
    benches = config["benchmarks"]
    corpus, evaluation = config["corpus"], config["evaluation"]
    eval_split = evaluation["split"]
    k = largest_k()
    for name in evaluation["benchmarks"]:
        splits = benchmark_splits(benches[name])
        _refuse_captionless_split("evaluation.split", eval_split, name, benches[name], splits)
        if eval_split not in splits:
            hint = _closest_hint(eval_split, splits)
            raise ConfigError(f"evaluation.split: {eval_split!r} is not a split of benchmark {name!r}{hint}; "
                              f"it has {', '.join(splits)}.")
        n_images = benches[name].get("n_images", {}).get(eval_split) or benches[name].get("max_images")
        if n_images is not None and n_images <= k and has_captions(benches[name]):  # VQA ranks answers
            which = f"n_images.{eval_split}" if benches[name]["kind"] == "synthetic" else "max_images"
            raise ConfigError(f"benchmarks.{name}.{which}: a gallery of {n_images} images is no larger than the "
                              f"largest cut-off of the metrics (R@{k}), so every row would score R@{k} = 1; "
                              f"give more than {k}.")
    splits = benchmark_splits(benches[corpus["benchmark"]])
    _refuse_captionless_split("corpus.split", corpus["split"], corpus["benchmark"], benches[corpus["benchmark"]], splits)
    if corpus["split"] not in splits:
        hint = _closest_hint(corpus["split"], splits)
        raise ConfigError(f"corpus.split: {corpus['split']!r} is not a split of benchmark "
                          f"{corpus['benchmark']!r}{hint}; it has {', '.join(splits)}.")
    if (corpus["benchmark"] in evaluation["benchmarks"] and corpus["split"] == eval_split
            and not corpus["allow_evaluation_split"]):
        raise ConfigError(f"corpus.split: {corpus['split']!r} of {corpus['benchmark']!r} is also the evaluation "
                          "split, so the students would be distilled on the test images; pick another split or "
                          "set corpus.allow_evaluation_split: true to do it on purpose.")


# --------------------------------------------------------------------------- models

def text_layer_count(model: dict, key: str = "model") -> int | None:
    """The teacher's text layers: its toy size, else ``text_layers``, else unknown (None)."""
    if model["source"] == "toy":
        from mvlm_distill.models.toy_size import resolve_size

        try:
            layers = resolve_size(model.get("toy"), key=f"{key}.toy")["text_layers"]
        except ValueError as err:
            raise ConfigError(f"{err}.") from None
        if model.get("text_layers", layers) != layers:
            raise ConfigError(f"{key}.text_layers: {model['text_layers']} disagrees with the toy size's "
                              f"{layers} text layers; set toy.layers instead.")
        return layers
    folder = local_teacher_folder(model)
    if folder is not None and (Path(folder) / "config.json").is_file():  # a local checkpoint says it itself
        import json

        hf_config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        layers = hf_config.get("text_config", hf_config).get("num_hidden_layers")
        if layers is not None and model.get("text_layers", layers) != layers:
            raise ConfigError(f"{key}.text_layers: {model['text_layers']} disagrees with the {layers} text layers "
                              f"of {folder}/config.json; remove it.")
        return layers if layers is not None else model.get("text_layers")
    return model.get("text_layers")


def _check_model(config: dict, i: int, model: dict, base_dir: Path) -> None:
    key = f"models[{i}]"
    if model["source"] != "toy" and not model.get("checkpoint"):
        raise ConfigError(f"{key}.checkpoint: required for source {model['source']!r} (model {model['name']!r}).")
    if model["source"] != "toy" and "toy" in model:
        raise ConfigError(f"{key}.toy: only a toy teacher (source: toy) has a toy size; remove it.")
    if model["source"] != "toy" and "pretraining_steps" in model:
        raise ConfigError(f"{key}.pretraining_steps: only a toy teacher (source: toy) is pretrained; remove it.")
    if "config" in model and model["source"] != "open_clip":
        raise ConfigError(f"{key}.config: only an open_clip model takes a local model config; remove it.")
    for field in ("checkpoint", "pretrained", "config"):
        value = model.get(field)
        if value and (_looks_like_path(value) or field == "config") and not (base_dir / value).exists():
            raise ConfigError(f"{key}.{field}: local path {value!r} does not exist.")
    if model["source"] == "open_clip" and not model.get("pretrained"):
        raise ConfigError(f"{key}.pretrained: required for source 'open_clip' (model {model['name']!r}); give its "
                          "pretrained tag (e.g. laion5b_s13b_b90k) or a local weights file.")
    n_layers = text_layer_count(model, key)
    layer_map = model.get("student_layers")
    if layer_map is None:
        if n_layers is None:
            raise ConfigError(f"{key}.student_layers: required when text_layers is not given.")
        model["student_layers"] = default_layer_map(n_layers)
        return
    if any(b <= a for a, b in zip(layer_map, layer_map[1:])):
        raise ConfigError(f"{key}.student_layers: {layer_map} must be strictly increasing "
                          f"(the student runs its layers in this order), e.g. {sorted(set(layer_map))}.")
    if n_layers is not None and any(layer >= n_layers for layer in layer_map):
        raise ConfigError(
            f"{key}.student_layers: {layer_map} is out of range; the teacher has {n_layers} text layers "
            f"(allowed 0..{n_layers - 1})."
        )
    if model["source"] == "toy" and "teacher_pretraining" not in config:
        raise ConfigError(f"teacher_pretraining: required because {key} is a toy model.")


def check_config(config: dict, schema_path: str | Path = SCHEMA_PATH, base_dir: str | Path = ".") -> dict:
    """Schema + semantic checks; returns a copy with defaults filled in. The study's one validation:
    the workflow calls no other (``snakemake.utils.validate`` would repeat it, with a traceback)."""
    config = validate_schema(config, schema_path)
    base_dir = Path(base_dir)

    _check_paths(config, base_dir)
    _check_results(config["results"], base_dir)

    names = [m["name"] for m in config["models"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"models: duplicate model name {dupes[0]!r}; each model needs its own name.")
    for i, model in enumerate(config["models"]):
        _check_model(config, i, model, base_dir)

    for method, weights in config["methods"].items():
        negative = [k for k, w in weights.items() if w < 0]
        if negative:
            raise ConfigError(f"methods.{method}.{negative[0]}: loss weights must not be negative.")
        if not any(w > 0 for w in weights.values()):
            raise ConfigError(f"methods.{method}: all loss weights are zero; give at least one a positive weight.")

    distill = config["distillation"]
    if distill["warmup_steps"] >= distill["steps"]:
        raise ConfigError(f"distillation.warmup_steps: {distill['warmup_steps']} is not below distillation.steps "
                          f"({distill['steps']}), so the learning rate would never reach its peak; "
                          "give fewer warm-up steps than steps.")

    _check_exports(config, base_dir)

    benches = config["benchmarks"]
    corpus = config["corpus"]["benchmark"]
    if corpus not in benches:
        raise ConfigError(f"corpus.benchmark: {corpus!r} is not a configured benchmark; allowed: {', '.join(benches)}.")
    for bench in config["evaluation"]["benchmarks"]:
        if bench not in benches:
            raise ConfigError(
                f"evaluation.benchmarks: {bench!r} is not a configured benchmark; allowed: {', '.join(benches)}."
            )
    for name, bench in benches.items():
        _check_benchmark(name, bench)
    _check_splits(config)
    # each benchmark is scored in the configured languages it offers; a language no benchmark offers is an error
    offered_any: set[str] = set()
    for bench in config["evaluation"]["benchmarks"]:
        offered = offered_languages(bench, benches[bench])
        if offered is None:
            offered_any = None
            break
        offered_any |= set(offered)
    if offered_any is not None:
        missing = [lang for lang in config["languages"] if lang not in offered_any]
        if missing:
            names = ", ".join(repr(b) for b in config["evaluation"]["benchmarks"])
            allowed = ", ".join(sorted(offered_any))
            raise ConfigError(f"languages: {missing[0]!r} is not offered by benchmark {names}; allowed: {allowed}.")
    for section in ("teacher_pretraining", "distillation"):
        fractions = config.get(section, {}).get("language_fraction")
        if fractions is not None:
            offered = offered_languages(corpus, benches[corpus])
            bad = [lang for lang in fractions if offered is not None and lang not in offered]
            if bad:
                raise ConfigError(
                    f"{section}.language_fraction: {bad[0]!r} is not offered by the corpus benchmark "
                    f"{corpus!r}; allowed: {', '.join(offered)}."
                )
            if not any(v > 0 for v in fractions.values()):
                raise ConfigError(f"{section}.language_fraction: every fraction is zero; the corpus would be empty.")
    _refuse_undistilled_languages(config)
    _refuse_benchmarks_a_teacher_learnt_from(config, base_dir)
    try:
        resource_groups(config["languages"], config.get("resource_levels"))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    _fill_all_defaults(config, schema_path)
    return config


TEACHER_RECORD = "mvlm_teacher.json"  # written by mvlm_distill.models.recipe beside a shipped teacher


def local_teacher_folder(model: dict, base_dir: Path = Path(".")) -> str | None:
    """The local checkpoint folder a teacher loads from (an open_clip config's folder, an hf folder), or None."""
    if model.get("source") == "open_clip" and model.get("config"):
        folder = Path(model["config"]).parent
    elif model.get("source") == "hf" and model.get("checkpoint"):
        folder = Path(model["checkpoint"])
    else:
        return None
    return str(folder) if (folder if folder.is_absolute() else base_dir / folder).is_dir() else None


def teacher_record_path(model: dict, base_dir: Path = Path(".")) -> Path | None:
    """Where a local teacher keeps its recipe record (``mvlm_teacher.json``), if it has one."""
    folder = local_teacher_folder(model, base_dir)
    if folder is None:
        return None
    path = (Path(folder) if Path(folder).is_absolute() else base_dir / folder) / TEACHER_RECORD
    return path if path.is_file() else None


def _refuse_benchmarks_a_teacher_learnt_from(config: dict, base_dir: Path) -> None:
    """A shipped teacher learnt from one synthetic benchmark's train split; a synthetic benchmark generated
    with other settings could hold its training images or captions in val or test, so it is refused."""
    import json

    from mvlm_distill.data.synthetic import generator_identity

    used = {config["corpus"]["benchmark"], *config["evaluation"]["benchmarks"]}
    for i, model in enumerate(config["models"]):
        record_path = teacher_record_path(model, base_dir)
        if record_path is None:
            continue
        try:
            trained_on = json.loads(record_path.read_text(encoding="utf-8"))["trained_on"]
            # records before generator version 6 name only the generator version: up to 5, each changed captions
            learnt = {**generator_identity(trained_on["benchmark"]),
                      "captions_version": trained_on.get("captions_version", trained_on["generator_version"])}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"models[{i}]: {record_path} is not a readable teacher record ({err}).") from None
        shown = Path(local_teacher_folder(model, base_dir)) / TEACHER_RECORD  # as the config names it
        for name in sorted(used):
            spec = config["benchmarks"][name]
            if spec.get("kind") != "synthetic":
                continue
            ours = generator_identity(spec)
            for key, value in ours.items():
                if value != learnt[key]:
                    where = "the captions version (mvlm_distill/data/synthetic.py)" if key == "captions_version" \
                        else f"benchmarks.{name}.{key}"
                    raise ConfigError(
                        f"{where}: {value!r} differs from {learnt[key]!r}, the setting {model['name']!r} was trained "
                        f"with ({shown}), so its val and test splits could hold images or captions the teacher "
                        f"learnt from; use the teacher's benchmark (teachers/recipe.yaml) or retrain it (make teachers)."
                    )


def _refuse_undistilled_languages(config: dict) -> None:
    """An evaluated language the corpus offers but ``distillation.language_fraction`` leaves out (or
    rounds to no image) would get no distillation data without a word; a fraction of 0 says it is meant."""
    fractions = config["distillation"].get("language_fraction")
    if fractions is None:
        return
    corpus = config["corpus"]["benchmark"]
    offered = offered_languages(corpus, config["benchmarks"][corpus])
    n_images = corpus_images(config)
    for lang in config["languages"]:
        if lang == "en" or (offered is not None and lang not in offered):  # en defaults to 1.0 (select_by_language)
            continue
        if lang not in fractions:
            raise ConfigError(f"distillation.language_fraction: the evaluated language {lang!r} is not listed, so the "
                              f"students would get no {lang} data; give it a fraction (0 if that is meant).")
        if n_images is not None and 0 < fractions[lang] and round(fractions[lang] * n_images) == 0:
            raise ConfigError(f"distillation.language_fraction.{lang}: {fractions[lang]} of {n_images:,} corpus images "
                              f"rounds to none, so the students would get no {lang} data; give at least "
                              f"{0.5 / n_images:.2g}.")


def corpus_images(config: dict) -> int | None:
    """Images of the corpus split, where the config alone tells (the synthetic benchmark)."""
    bench = config["benchmarks"][config["corpus"]["benchmark"]]
    if bench["kind"] != "synthetic":
        return None
    from mvlm_distill.data.synthetic import DEFAULT_N_IMAGES

    return (bench.get("n_images") or DEFAULT_N_IMAGES).get(config["corpus"]["split"])


def corpus_items(config: dict, fractions: dict | None) -> int | None:
    """Captions (pairs with English) that ``select_by_language`` keeps of the synthetic corpus split."""
    n_images = corpus_images(config)
    if n_images is None:
        return None
    bench = config["benchmarks"][config["corpus"]["benchmark"]]
    languages = offered_languages(config["corpus"]["benchmark"], bench)
    if "en" not in languages:  # corpus_items pairs every caption with its English one
        return None
    fractions = {"en": 1.0, **fractions} if fractions else dict.fromkeys(languages, 1.0)
    per_image = bench.get("paraphrases", 2)
    return sum(round(fractions[lang] * n_images) * per_image for lang in languages if lang in fractions)


def batch_warning(key: str, batch_size: int, n_items: int, unit: str = "items") -> str | None:
    """The warning for a batch that would be cut to the whole corpus (None when it fits)."""
    if batch_size <= n_items:
        return None
    return (f"{key}: {batch_size} is more than the {n_items:,} {unit} of the corpus, so every batch is the whole "
            f"corpus ({n_items:,}).")


def config_warnings(config: dict) -> list[str]:
    """Legitimate but surprising settings of a checked config, one sentence each naming the key."""
    warnings = []
    items = corpus_items(config, config["distillation"].get("language_fraction"))
    if items is not None:
        warnings.append(batch_warning("distillation.batch_size", config["distillation"]["batch_size"], items))
    pre = config.get("teacher_pretraining")
    if pre and any(m["source"] == "toy" for m in config["models"]) and corpus_images(config) is not None:
        # pretraining batches are images; English (default fraction 1.0) has every one
        fractions = {"en": 1.0, **pre.get("language_fraction", {})}
        images = max(round(f * corpus_images(config)) for f in fractions.values())
        warnings.append(batch_warning("teacher_pretraining.batch_size", pre["batch_size"], images, "images"))
    for i, model in enumerate(config["models"]):
        n_layers = text_layer_count(model, f"models[{i}]")
        if n_layers is not None and len(model["student_layers"]) >= n_layers:
            warnings.append(f"models[{i}].student_layers: {model['student_layers']} keeps all {n_layers} text layers "
                            f"of the teacher, so the student of {model['name']!r} is as deep as its teacher.")
    seen: dict = {}
    for method, weights in config["methods"].items():
        same = seen.setdefault(tuple(sorted((k, w) for k, w in weights.items() if w)), method)
        if same != method:
            warnings.append(f"methods.{same} and methods.{method} have the same loss weights, so they distil "
                            "the same students twice.")
    levels = config.get("resource_levels")
    if levels is not None:
        named = {code for codes in levels.values() for code in codes}
        unnamed = [code for code in config["languages"] if code not in named]
        if unnamed:
            warnings.append(f"resource_levels: {', '.join(unnamed)} {'is' if len(unnamed) == 1 else 'are'} in no "
                            f"level, so the reports show {'it' if len(unnamed) == 1 else 'them'} last, as unclassified.")
    return [w for w in warnings if w]


def missing_source(name: str, source: str) -> str:
    """The sentence for a dataset benchmark whose local copy is not there."""
    return (f"benchmarks.{name}.source: local copy {source!r} does not exist; point it at the release "
            "or set download: true on a machine with network (docs/datasets.md).")


def missing_sources(config: dict, base_dir: str | Path = ".") -> dict[str, str]:
    """Benchmark name -> sentence, for each used dataset benchmark read from a local copy that does not exist."""
    missing = {}
    used = [config["corpus"]["benchmark"], *config["evaluation"]["benchmarks"]]
    for name, bench in config["benchmarks"].items():
        if name not in used or bench["kind"] == "synthetic" or bench.get("source") == "hf" or bench.get("download"):
            continue
        source = bench.get("source") or str(Path(config.get("data_root", "data")) / name)
        if not (Path(base_dir) / Path(source).expanduser()).exists():
            missing[name] = missing_source(name, source)
    return missing


def _check_exports(config: dict, base_dir: Path) -> None:
    """The extra trimming text exists; each published export is one the study makes."""
    extra = config.get("export", {}).get("extra_text")
    if extra and not (base_dir / extra).is_file():
        raise ConfigError(f"export.extra_text: file {extra!r} does not exist.")
    models = {m["name"] for m in config["models"]}
    for i, entry in enumerate(config.get("publish", {}).get("repositories", [])):
        try:
            model, method, seed = parse_student(entry["export"])
        except ValueError:
            model = None
        if model not in models or method not in config["methods"] or seed not in config["seeds"]:
            raise ConfigError(
                f"publish.repositories[{i}].export: {entry['export']!r} is not an export of this study "
                f"(model/method/seedN with a configured model, method and seed)."
            )


def _check_paths(config: dict, base_dir: Path) -> None:
    """Relative paths stay inside the project folder; leaving it takes a deliberate absolute path."""
    keys = [("results", config.get("results")), ("data_root", config.get("data_root"))]
    for name, bench in config["benchmarks"].items():
        keys += [(f"benchmarks.{name}.{k}", bench.get(k)) for k in ("source", "images")]
    for i, model in enumerate(config["models"]):
        keys += [(f"models[{i}].{k}", model.get(k)) for k in ("checkpoint", "pretrained", "config")
                 if _looks_like_path(model.get(k) or "")]
    root = base_dir.resolve()
    for key, value in keys:
        if not value or Path(value).expanduser().is_absolute():
            continue
        if not (root / value).resolve().is_relative_to(root):
            raise ConfigError(
                f"{key}: {value!r} leaves the project folder; give an absolute path to use a folder outside it deliberately."
            )


def _check_results(results: str, base_dir: Path) -> None:
    """The results folder is a folder: not blank, not the filesystem root, not an existing file."""
    if not results.strip():
        raise ConfigError("results: must not be blank; give the folder for the study's outputs (e.g. results).")
    path = (base_dir / Path(results).expanduser()).resolve()
    if path == Path(path.anchor):
        raise ConfigError(f"results: {results!r} is the filesystem root; give a folder for the study's outputs.")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"results: {results!r} is an existing file, not a folder; give a folder for the study's outputs.")


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~")) or value.endswith((".safetensors", ".bin", ".pt", ".pth"))


def has_captions(benchmark: dict) -> bool:
    """False for VQA-only datasets (xGQA, MaXM): nothing to retrieve or cluster there."""
    if benchmark["kind"] in ("synthetic", "local"):
        return True
    from mvlm_distill.data import adapters

    adapter = adapters.ADAPTERS.get(benchmark["kind"])
    return adapter is None or adapter.kind != "vqa"


def grid_languages(config: dict, benchmark: str) -> list[str]:
    """The configured languages that one evaluated benchmark offers (all of them when unknown)."""
    offered = offered_languages(benchmark, config["benchmarks"][benchmark])
    return [lang for lang in config["languages"] if offered is None or lang in offered]
