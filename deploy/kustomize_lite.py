"""An offline renderer for the subset of Kustomize that deploy/kubernetes uses (no kustomize binary on CI).

Supported kustomization fields, with kustomize's semantics:

* ``resources`` (YAML files inside the kustomization root, or directories holding a kustomization)
* ``namespace`` (set on every namespaced object; cluster-scoped kinds are left alone)
* ``images`` (``name`` -> ``newName`` / ``newTag`` / ``digest`` on containers and init containers)
* ``replicas`` (``name`` / ``count``)
* ``configMapGenerator`` / ``secretGenerator`` (``literals``, ``files`` with optional ``key=`` prefix, ``envs``,
  ``behavior`` create / merge / replace, ``options.labels`` / ``options.annotations``)
* ``generatorOptions`` - only with ``disableNameSuffixHash: true`` (hash suffixes and the name-reference rewriting
  they need are not implemented, so the renderer refuses rather than render something kustomize would not)
* ``patches`` (``path`` or inline ``patch``; JSON 6902 operation lists need a ``target``; strategic-merge patches
  find their object by kind + name; ``target`` selects by ``group``/``version``/``kind``/``name`` (regex) /
  ``namespace`` / ``labelSelector`` (``a=b,c=d``))

Anything else in a kustomization is an error, and so is a file outside its kustomization root (kustomize's load
restrictor), a patch that matches nothing, or two objects with the same kind, namespace and name.

Strategic merge: maps merge recursively, ``null`` deletes a key, lists of objects merge by the Kubernetes patch
merge key of their field (containers, initContainers, env, volumes, imagePullSecrets: ``name``;
volumeMounts: ``mountPath``; ports: ``containerPort`` or ``port``; topologySpreadConstraints: ``topologyKey``),
an item with ``$patch: delete`` removes its match; every other list is replaced.
"""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ALLOWED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "replicas",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "patches",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
MERGE_KEYS = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "ports": ("containerPort", "port"),
    "topologySpreadConstraints": ("topologyKey",),
}
POD_SPEC_PATHS = (
    ("spec", "template", "spec"),  # Deployment, StatefulSet, DaemonSet, Job, ReplicaSet
    ("spec", "jobTemplate", "spec", "template", "spec"),  # CronJob
    ("spec",),  # Pod
)


class KustomizeError(Exception):
    pass


# ------------------------------------------------------------------------------------------------------ helpers


def _load_yaml_documents(path: Path) -> list[Obj]:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as exc:
        raise KustomizeError(f"{path}: not valid YAML: {exc}") from exc
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d or "name" not in d.get("metadata", {}):
            raise KustomizeError(f"{path}: every document needs apiVersion, kind and metadata.name")
    return docs


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise KustomizeError(f"{path}: outside the kustomization root {root} (kustomize's load restrictor)")
    return resolved


def _key(obj: Obj) -> tuple[str, str, str, str]:
    group = obj["apiVersion"].rsplit("/", 1)[0] if "/" in obj["apiVersion"] else ""
    return (group, obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _json_pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"JSON patch path {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    for part in parts:
        if isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError) as exc:
                raise KustomizeError(f"JSON patch path {path}: no list item {part}") from exc
        elif isinstance(doc, dict):
            if part not in doc:
                raise KustomizeError(f"JSON patch path {path}: no key {part}")
            doc = doc[part]
        else:
            raise KustomizeError(f"JSON patch path {path}: cannot descend into a scalar")
    return doc


def apply_json6902(obj: Obj, ops: list[Obj]) -> Obj:
    obj = copy.deepcopy(obj)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        parts = _json_pointer(path)
        parent = _walk(obj, parts[:-1], path)
        last = parts[-1]
        if kind in ("add", "replace"):
            value = copy.deepcopy(op["value"])
            if isinstance(parent, list):
                if last == "-":
                    parent.append(value)
                elif kind == "add":
                    parent.insert(int(last), value)
                else:
                    _walk(parent, [last], path)
                    parent[int(last)] = value
            else:
                if kind == "replace" and last not in parent:
                    raise KustomizeError(f"JSON patch replace {path}: nothing there")
                parent[last] = value
        elif kind == "remove":
            _walk(parent, [last], path)
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                del parent[last]
        elif kind == "test":
            if _walk(parent, [last], path) != op.get("value"):
                raise KustomizeError(f"JSON patch test {path} failed")
        else:
            raise KustomizeError(f"JSON patch op {kind!r} is not supported (add, replace, remove, test)")
    return obj


def strategic_merge(base: Any, patch: Any, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for k, v in patch.items():
            if k == "$patch":
                continue
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = strategic_merge(out[k], v, k)
            else:
                out[k] = _strip_directives(copy.deepcopy(v))
        return out
    if isinstance(base, list) and isinstance(patch, list) and field in MERGE_KEYS:
        items = [i for i in base + patch if isinstance(i, dict)]
        key = next((k for k in MERGE_KEYS[field] if items and all(k in i for i in items)), None)
        if key is None:
            return _strip_directives(copy.deepcopy(patch))
        out_list = copy.deepcopy(base)
        for item in patch:
            idx = next((n for n, b in enumerate(out_list) if b.get(key) == item.get(key)), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    del out_list[idx]
            elif idx is None:
                out_list.append(_strip_directives(copy.deepcopy(item)))
            else:
                out_list[idx] = strategic_merge(out_list[idx], item, "")
        return out_list
    return _strip_directives(copy.deepcopy(patch))


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if k != "$patch"}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _matches(obj: Obj, target: Obj) -> bool:
    unknown = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector"}
    if unknown:
        raise KustomizeError(f"patch target fields not supported: {sorted(unknown)}")
    api = obj["apiVersion"]
    group, version = api.rsplit("/", 1) if "/" in api else ("", api)
    meta = obj["metadata"]
    if "group" in target and target["group"] != group:
        return False
    if "version" in target and target["version"] != version:
        return False
    if "kind" in target and target["kind"] != obj["kind"]:
        return False
    if "name" in target and not re.fullmatch(target["name"], meta["name"]):
        return False
    if "namespace" in target and not re.fullmatch(target["namespace"], meta.get("namespace", "")):
        return False
    if "labelSelector" in target:
        labels = meta.get("labels") or {}
        for term in str(target["labelSelector"]).split(","):
            k, sep, v = term.partition("=")
            if not sep or "!" in k:
                raise KustomizeError(f"labelSelector {target['labelSelector']!r}: only a=b terms are supported")
            if labels.get(k.strip()) != v.strip():
                return False
    return True


def _pod_specs(obj: Obj) -> list[Obj]:
    specs = []
    for path in POD_SPEC_PATHS:
        node: Any = obj
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and "containers" in node:
            specs.append(node)
            break
    return specs


def _split_image(image: str) -> tuple[str, str]:
    """Return (name, suffix) where suffix is ':tag', '@digest' or ''."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, "@" + digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = image.rsplit(":", 1)
        return name, ":" + tag
    return image, ""


# ------------------------------------------------------------------------------------------------------ renderer


def _generator_data(root: Path, gen: Obj, what: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for literal in gen.get("literals", []) or []:
        k, sep, v = str(literal).partition("=")
        if not sep:
            raise KustomizeError(f"{what}: literal {literal!r} is not KEY=VALUE")
        data[k] = v
    for entry in gen.get("files", []) or []:
        key, sep, rel = str(entry).partition("=")
        if not sep:
            key, rel = Path(entry).name, entry
        data[key] = _inside(root, root / rel).read_text(encoding="utf-8")
    for rel in gen.get("envs", []) or []:
        for line in _inside(root, root / rel).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, v = line.partition("=")
                data[k] = v
    unknown = set(gen) - {"name", "namespace", "behavior", "literals", "files", "envs", "options", "type"}
    if unknown:
        raise KustomizeError(f"{what}: fields not supported: {sorted(unknown)}")
    return data


def _generate(root: Path, kust: Obj, resources: list[Obj]) -> list[Obj]:
    options = kust.get("generatorOptions") or {}
    generators = [("ConfigMap", g) for g in kust.get("configMapGenerator", []) or []]
    generators += [("Secret", g) for g in kust.get("secretGenerator", []) or []]
    if generators and options.get("disableNameSuffixHash") is not True:
        raise KustomizeError(f"{root}: generators need generatorOptions.disableNameSuffixHash: true here")
    if set(options) - {"disableNameSuffixHash", "labels", "annotations"}:
        raise KustomizeError(f"{root}: generatorOptions fields not supported: {sorted(set(options))}")
    for kind, gen in generators:
        what = f"{root}: {kind} generator {gen.get('name')}"
        data = _generator_data(root, gen, what)
        gen_opts = gen.get("options") or {}
        labels = {**(options.get("labels") or {}), **(gen_opts.get("labels") or {})}
        annotations = {**(options.get("annotations") or {}), **(gen_opts.get("annotations") or {})}
        behavior = gen.get("behavior", "create")
        existing = [
            r
            for r in resources
            if r["kind"] == kind and r["metadata"]["name"] == gen["name"] and r["apiVersion"] == "v1"
        ]
        if behavior == "create":
            if existing:
                raise KustomizeError(f"{what}: already exists (use behavior: merge or replace)")
            meta: Obj = {"name": gen["name"]}
            if labels:
                meta["labels"] = labels
            if annotations:
                meta["annotations"] = annotations
            obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": meta}
            if kind == "Secret":
                obj["type"] = gen.get("type", "Opaque")
                obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
            else:
                obj["data"] = data
            resources.append(obj)
        elif behavior in ("merge", "replace"):
            if len(existing) != 1:
                raise KustomizeError(f"{what}: behavior {behavior} needs exactly one existing {kind}")
            target = existing[0]
            encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()} if kind == "Secret" else data
            target["data"] = {**(target.get("data") or {}), **encoded} if behavior == "merge" else encoded
            if labels:
                target["metadata"].setdefault("labels", {}).update(labels)
        else:
            raise KustomizeError(f"{what}: behavior {behavior!r} unknown")
    return resources


def _apply_patches(root: Path, kust: Obj, resources: list[Obj]) -> list[Obj]:
    for spec in kust.get("patches", []) or []:
        unknown = set(spec) - {"path", "patch", "target", "options"}
        if unknown:
            raise KustomizeError(f"{root}: patch fields not supported: {sorted(unknown)}")
        if "path" in spec:
            text = _inside(root, root / spec["path"]).read_text(encoding="utf-8")
            where = f"{root}: patch {spec['path']}"
        else:
            text, where = spec["patch"], f"{root}: inline patch"
        body = yaml.safe_load(text)
        target = spec.get("target")
        if isinstance(body, list):
            if not target:
                raise KustomizeError(f"{where}: a JSON 6902 patch needs a target")
            hits = [i for i, r in enumerate(resources) if _matches(r, target)]
            if not hits:
                raise KustomizeError(f"{where}: target {target} matches nothing")
            for i in hits:
                resources[i] = apply_json6902(resources[i], body)
        elif isinstance(body, dict):
            if target:
                hits = [i for i, r in enumerate(resources) if _matches(r, target)]
            else:
                sel = {"kind": body.get("kind"), "name": re.escape(body.get("metadata", {}).get("name", ""))}
                hits = [i for i, r in enumerate(resources) if _matches(r, sel)]
            if not hits:
                raise KustomizeError(f"{where}: matches nothing")
            for i in hits:
                name = resources[i]["metadata"]["name"]
                merged = strategic_merge(resources[i], {k: v for k, v in body.items() if k != "metadata"})
                patch_meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in ("name", "namespace")}
                merged["metadata"] = strategic_merge(merged["metadata"], patch_meta)
                merged["metadata"]["name"] = name
                resources[i] = merged
        else:
            raise KustomizeError(f"{where}: neither a JSON 6902 list nor a strategic-merge object")
    return resources


def _transform(kust: Obj, resources: list[Obj]) -> list[Obj]:
    namespace = kust.get("namespace")
    if namespace:
        for r in resources:
            if r["kind"] not in CLUSTER_SCOPED:
                r["metadata"]["namespace"] = namespace
    for image in kust.get("images", []) or []:
        unknown = set(image) - {"name", "newName", "newTag", "digest"}
        if unknown:
            raise KustomizeError(f"images fields not supported: {sorted(unknown)}")
        for r in resources:
            for spec in _pod_specs(r):
                for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                    name, suffix = _split_image(c["image"])
                    if name != image["name"]:
                        continue
                    if "digest" in image:
                        suffix = "@" + image["digest"]
                    elif "newTag" in image:
                        suffix = ":" + str(image["newTag"])
                    c["image"] = image.get("newName", name) + suffix
    for rep in kust.get("replicas", []) or []:
        hits = [r for r in resources if r["metadata"]["name"] == rep["name"] and "replicas" in r.get("spec", {})]
        if not hits:
            raise KustomizeError(f"replicas: nothing named {rep['name']} with spec.replicas")
        for r in hits:
            r["spec"]["replicas"] = int(rep["count"])
    return resources


def load_kustomization(directory: Path) -> tuple[Path, Obj]:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            kust = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            unknown = set(kust) - ALLOWED_FIELDS
            if unknown:
                raise KustomizeError(f"{path}: fields this renderer does not implement: {sorted(unknown)}")
            if kust.get("kind", "Kustomization") != "Kustomization":
                raise KustomizeError(f"{path}: kind must be Kustomization")
            return path, kust
    raise KustomizeError(f"{directory}: no kustomization.yaml")


def build(directory: Path, _stack: tuple[Path, ...] = ()) -> list[Obj]:
    """Render the kustomization in ``directory`` like ``kustomize build`` would (for the supported subset)."""
    root = directory.resolve()
    if root in _stack:
        raise KustomizeError(f"{root}: cycle in resources")
    _, kust = load_kustomization(root)
    resources: list[Obj] = []
    for entry in kust.get("resources", []) or []:
        path = (root / entry).resolve()
        if path.is_dir():
            resources += build(path, (*_stack, root))
        elif path.is_file():
            resources += copy.deepcopy(_load_yaml_documents(_inside(root, path)))
        else:
            raise KustomizeError(f"{root}: resource {entry} not found")
    resources = _generate(root, kust, resources)
    resources = _apply_patches(root, kust, resources)
    resources = _transform(kust, resources)
    seen: set[tuple[str, str, str, str]] = set()
    for r in resources:
        k = _key(r)
        if k in seen:
            raise KustomizeError(f"{root}: two objects {k[1]} {k[2]}/{k[3]}")
        seen.add(k)
    return resources


def dump(resources: list[Obj]) -> str:
    return "---\n".join(yaml.safe_dump(r, sort_keys=False, width=120) for r in resources)
