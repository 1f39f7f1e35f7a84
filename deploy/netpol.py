"""A NetworkPolicy evaluator (networking.k8s.io/v1 semantics) for deploy/validate.py: which flows do the rendered
policies allow?

Kubernetes semantics implemented:

* a pod is isolated for ingress (egress) when some policy in its namespace selects it and has ``Ingress``
  (``Egress``) in its ``policyTypes`` (default: ``Ingress``, plus ``Egress`` when the policy has ``egress`` rules);
  an isolated pod accepts only what the union of those policies' rules allows, a non-isolated one everything;
* a flow is allowed when the source's egress and the destination's ingress both allow it (a peer outside the
  namespace is governed by its own namespace's policies, which are not modelled: allowed on its side);
* peers: ``podSelector`` alone (pods of the policy's namespace), ``namespaceSelector`` alone (every pod of the
  matching namespaces), both (pods matching in matching namespaces), ``ipBlock`` (an address outside the cluster,
  ``except`` subtracted); an empty or missing ``from``/``to`` matches every peer;
* ports: number or named container port of the destination, ``protocol`` (default TCP), ``endPort``; an empty or
  missing ``ports`` list matches every port;
* label selectors: ``matchLabels`` and ``matchExpressions`` (In, NotIn, Exists, DoesNotExist); an empty selector
  selects everything; namespaces carry ``kubernetes.io/metadata.name``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels + named ports) or an address outside the cluster (ip)."""

    name: str
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    ports: tuple[tuple[str, int], ...] = ()  # (name, containerPort)
    ip: str | None = None

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    def port_number(self, port: int | str) -> int | None:
        if isinstance(port, int):
            return port
        return next((number for name, number in self.ports if name == port), None)


def pod(name: str, namespace: str, labels: dict[str, str], ports: dict[str, int] | None = None) -> Endpoint:
    return Endpoint(name, namespace, tuple(sorted(labels.items())), tuple(sorted((ports or {}).items())))


def outside(name: str, ip: str) -> Endpoint:
    return Endpoint(name, ip=ip)


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {op}")
    return True


def policy_types(policy: Obj) -> list[str]:
    spec = policy["spec"]
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    return ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]


def peer_matches(peer: Obj, other: Endpoint, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False  # pod addresses are not modelled: an ipBlock admits only outside addresses here
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if other.namespace is None:
        return False  # an outside address is matched by ipBlock only
    ns_selector = peer.get("namespaceSelector")
    pod_selector = peer.get("podSelector")
    if ns_selector is not None:
        ns_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not selector_matches(ns_selector, ns_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return pod_selector is None or selector_matches(pod_selector, other.label_map)


def port_matches(ports: list[Obj] | None, destination: Endpoint, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        number = destination.port_number(p["port"])
        if number is None:
            continue
        if number == port or (p.get("endPort") and number <= port <= p["endPort"]):
            return True
    return False


@dataclass
class Verdict:
    allowed: bool
    why: str = ""
    egress_policies: list[str] = field(default_factory=list)
    ingress_policies: list[str] = field(default_factory=list)


def _side_allows(
    policies: list[Obj], subject: Endpoint, other: Endpoint, destination: Endpoint, port: int, protocol: str, kind: str
) -> tuple[bool, list[str]]:
    """Does the subject's own namespace let this flow out (kind Egress) or in (kind Ingress)?"""
    if subject.namespace is None:
        return True, []
    selecting = [
        p
        for p in policies
        if (p["metadata"].get("namespace") or subject.namespace) == subject.namespace
        and selector_matches(p["spec"].get("podSelector", {}), subject.label_map)
        and kind in policy_types(p)
    ]
    if not selecting:
        return True, []
    rules_key, peers_key = ("egress", "to") if kind == "Egress" else ("ingress", "from")
    allowing = []
    for p in selecting:
        ns = p["metadata"].get("namespace") or subject.namespace
        for rule in p["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            if peers and not any(peer_matches(peer, other, ns) for peer in peers):
                continue
            if port_matches(rule.get("ports"), destination, port, protocol):
                allowing.append(p["metadata"]["name"])
                break
    return bool(allowing), [p["metadata"]["name"] for p in selecting]


def evaluate(policies: list[Obj], source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> Verdict:
    out_ok, out_policies = _side_allows(policies, source, destination, destination, port, protocol, "Egress")
    in_ok, in_policies = _side_allows(policies, destination, source, destination, port, protocol, "Ingress")
    why = []
    if not out_ok:
        why.append(f"egress of {source.name} (policies {', '.join(out_policies)}) does not allow it")
    if not in_ok:
        why.append(f"ingress of {destination.name} (policies {', '.join(in_policies)}) does not allow it")
    return Verdict(out_ok and in_ok, "; ".join(why), out_policies, in_policies)
