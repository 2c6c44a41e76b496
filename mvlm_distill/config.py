"""Load and check a study config.

The JSON schema (workflow/schemas/config.schema.yaml) checks shapes and types;
``check_config`` adds what a schema cannot say (languages a benchmark offers,
layer maps, local paths). Every problem is one sentence that names the key.
Shared by the Snakefile and the scripts, so a bad config stops before any job.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
LOSS_NAMES = ("FD", "ED", "SD", "MCL", "DR")
REFERENCES = ("teacher", "init")
DEFAULT_TOY_TEXT_LAYERS = 4


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
    config = load_yaml(path)
    config.update(overrides or {})
    return check_config(config)


def _key_path(error) -> str:
    key = ""
    for part in error.absolute_path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def _schema_error_sentence(error) -> str:
    key = _key_path(error)
    validator = error.validator
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        where = f"{key}." if key != "(top level)" else ""
        return f"{where}{missing}: required key is missing."
    if validator == "additionalProperties":
        return f"{key}: unknown key ({error.message.split('(')[-1].rstrip(')')})."
    if validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{key}: {error.instance!r} is not allowed; allowed values: {allowed}."
    if validator == "type":
        return f"{key}: expected {error.validator_value}, got {error.instance!r}."
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


def validate_schema(config: dict, schema_path: str | Path = SCHEMA_PATH) -> dict:
    """Validate against the JSON schema, fill defaults, raise ConfigError on the first problem."""
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        # best_match prefers deep errors inside propertyNames; keep the key path readable
        raise ConfigError(_schema_error_sentence(best))
    config = copy.deepcopy(config)
    _fill_defaults(config, schema)
    return config


def _fill_defaults(instance, schema) -> None:
    if not isinstance(instance, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)


def offered_languages(name: str, benchmark: dict) -> list[str] | None:
    """Languages a configured benchmark offers (None when only the data can tell)."""
    if benchmark.get("languages"):
        return list(benchmark["languages"])
    kind = benchmark["kind"]
    if kind == "synthetic":
        from mvlm_distill.data import lexicon

        return list(lexicon.LANGUAGES)
    if kind == "local":
        return None
    from mvlm_distill.data import adapters

    adapter = adapters.ADAPTERS.get(kind)
    return list(adapter.languages) if adapter is not None else None


def text_layer_count(model: dict) -> int | None:
    if "text_layers" in model:
        return model["text_layers"]
    if model["source"] == "toy":
        return int(model.get("toy", {}).get("layers", DEFAULT_TOY_TEXT_LAYERS))
    return None


def default_layer_map(n_layers: int) -> list[int]:
    """Every other layer, starting at the first: 12 -> [0, 2, ..., 10]."""
    return list(range(0, n_layers, 2))


def check_config(config: dict, schema_path: str | Path = SCHEMA_PATH, base_dir: str | Path = ".") -> dict:
    """Schema + semantic checks; returns the config with defaults filled in."""
    config = validate_schema(config, schema_path)
    base_dir = Path(base_dir)

    _check_paths(config, base_dir)

    names = [m["name"] for m in config["models"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"models: duplicate model name {dupes[0]!r}; each model needs its own name.")

    for i, model in enumerate(config["models"]):
        key = f"models[{i}]"
        if model["source"] != "toy" and not model.get("checkpoint"):
            raise ConfigError(f"{key}.checkpoint: required for source {model['source']!r} (model {model['name']!r}).")
        for field in ("checkpoint", "pretrained"):
            value = model.get(field)
            if value and _looks_like_path(value) and not (base_dir / value).exists():
                raise ConfigError(f"{key}.{field}: local path {value!r} does not exist.")
        n_layers = text_layer_count(model)
        layer_map = model.get("student_layers")
        if layer_map is None:
            if n_layers is None:
                raise ConfigError(f"{key}.student_layers: required when text_layers is not given.")
            model["student_layers"] = default_layer_map(n_layers)
        elif n_layers is not None and any(layer >= n_layers for layer in layer_map):
            raise ConfigError(
                f"{key}.student_layers: {layer_map} is out of range; the teacher has {n_layers} text layers "
                f"(allowed 0..{n_layers - 1})."
            )
        if model["source"] == "toy" and "teacher_pretraining" not in config:
            raise ConfigError(f"teacher_pretraining: required because {key} is a toy model.")

    for method, weights in config["methods"].items():
        unknown = [k for k in weights if k not in LOSS_NAMES]
        if unknown:
            raise ConfigError(
                f"methods.{method}: unknown loss {unknown[0]!r}; allowed: {', '.join(LOSS_NAMES)}."
            )
        negative = [k for k, w in weights.items() if w < 0]
        if negative:
            raise ConfigError(f"methods.{method}.{negative[0]}: loss weights must not be negative.")
        if not any(w > 0 for w in weights.values()):
            raise ConfigError(f"methods.{method}: all loss weights are zero; give at least one a positive weight.")

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
    return config


def _check_exports(config: dict, base_dir: Path) -> None:
    """The extra trimming text exists; each published export is one the study makes."""
    extra = config.get("export", {}).get("extra_text")
    if extra and not (base_dir / extra).is_file():
        raise ConfigError(f"export.extra_text: file {extra!r} does not exist.")
    models = {m["name"] for m in config["models"]}
    for i, entry in enumerate(config.get("publish", {}).get("repositories", [])):
        model, method, seed = entry["export"].split("/")
        if model not in models or method not in config["methods"] or int(seed[len("seed"):]) not in config["seeds"]:
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
        keys += [(f"models[{i}].{k}", model.get(k)) for k in ("checkpoint", "pretrained") if _looks_like_path(model.get(k) or "")]
    root = base_dir.resolve()
    for key, value in keys:
        if not value or Path(value).expanduser().is_absolute():
            continue
        if not (root / value).resolve().is_relative_to(root):
            raise ConfigError(
                f"{key}: {value!r} leaves the project folder; give an absolute path to use a folder outside it deliberately."
            )


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


def model_spec(config: dict, name: str) -> dict:
    for model in config["models"]:
        if model["name"] == name:
            return model
    raise ConfigError(f"models: no model named {name!r}.")
