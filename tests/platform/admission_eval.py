"""Staging's ValidatingAdmissionPolicies evaluated as the API server applies them, with cel-python
(shared by the review admission tests). cel-python does not type-check against schemas: the
cluster test (branch `cluster`) reads status.typeChecking from a real API server."""

from __future__ import annotations

import celpy

from tests.app.k8s import manifest


def objects(recording, kind: str) -> list[dict]:
    return [m for m in map(manifest, recording.kubernetes_objects()) if m["kind"] == kind]


def kubernetes_cel_functions() -> dict:
    """The Kubernetes CEL library functions the policies call that cel-python lacks (strings ext)."""
    from celpy import celtypes

    return {"substring": lambda s, start, end=None: celtypes.StringType(s[start:end])}


def admission(staging):
    """A function (user, operation, "group/resource", namespace, name, object fields) -> admitted?,
    from every ValidatingAdmissionPolicy of staging that is bound with Deny: matchConstraints,
    matchConditions, then the validations. The request is shaped as the API server builds it: a
    Namespace's request.namespace is its own name; other cluster-scoped objects have none (a CEL
    error then, which failurePolicy Fail denies)."""
    bindings = {b["spec"]["policyName"]: b for b in objects(staging, "ValidatingAdmissionPolicyBinding")}
    policies = [p for p in objects(staging, "ValidatingAdmissionPolicy") if p["metadata"]["name"].startswith("tradesense-review-deployer")]
    assert len(policies) > 5
    env = celpy.Environment()
    compile_ = lambda expression: env.program(env.compile(expression), functions=kubernetes_cel_functions())  # noqa: E731
    compiled = []
    for policy in policies:
        assert bindings[policy["metadata"]["name"]]["spec"]["validationActions"] == ["Deny"]
        assert policy["spec"]["failurePolicy"] == "Fail"
        compiled.append((policy["spec"]["matchConstraints"]["resourceRules"],
                         [compile_(c["expression"]) for c in policy["spec"]["matchConditions"]],
                         [compile_(v["expression"]) for v in policy["spec"]["validations"]]))

    def passes(program, activation) -> bool:
        try:
            return bool(program.evaluate(activation))
        except celpy.CELEvalError:
            return False  # failurePolicy: Fail

    def matches(rules, operation: str, group: str, resource: str, subresource: str) -> bool:
        """As the API server matches: `*` is every resource, `*/*` also every subresource, `a/b` one subresource."""
        full = f"{resource}/{subresource}" if subresource else resource
        return any(operation in r["operations"] and {"*", group} & set(r["apiGroups"])
                   and ({"*/*", full} | (set() if subresource else {"*"})) & set(r["resources"]) for r in rules)

    def admitted(user: str, operation: str, resource: str, namespace: str, name: str, subresource: str = "", **fields) -> bool:
        group, _, resource = resource.rpartition("/")
        obj = {"metadata": {"name": name, **({"namespace": namespace} if namespace else {})}, **fields}
        request = {"userInfo": {"username": user}, "operation": operation, "name": name, "subResource": subresource,
                   "resource": {"group": group, "version": "v1", "resource": resource}}
        if resource == "namespaces":
            request["namespace"] = name
        elif namespace:
            request["namespace"] = namespace
        activation = {k: celpy.json_to_cel(v) for k, v in {
            "request": request,
            "object": None if operation == "DELETE" else obj,
            "oldObject": obj if operation != "CREATE" else None,
        }.items()}
        for rules, conditions, validations in compiled:
            if not matches(rules, operation, group, resource, subresource):
                continue
            if not all(passes(c, activation) for c in conditions):
                continue  # the policy does not apply to this user
            if not all(passes(v, activation) for v in validations):
                return False
        return True

    return admitted
