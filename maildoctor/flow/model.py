"""The flow model: what a flow file may say, validated strictly by pydantic (unknown fields refused).

Graph rules (targets exist, outcomes routed, reachability, cycles) live in ``load.py``, which knows
the file and line of every node.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

NodeId = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="a node id: lowercase, digits, - and _")
]
InputName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(Strict):
    """An input the walk needs; `--set NAME=VALUE`, `MAILDOCTOR_INPUT_NAME` or the TUI form fill it."""

    description: str
    required: bool = False
    secret: bool = Field(False, description="never shown, stored or accepted on the command line")
    kind: Literal["text", "email", "domain", "region", "access-key-id", "choice", "multiline"] = "text"
    choices: list[str] | None = None
    default: str | None = None
    default_from: Literal["aws-region"] | None = Field(
        None, description="take the default from a connection setting (the AWS region in effect)"
    )
    example: str | None = None


class CheckNode(Strict):
    kind: Literal["check"]
    title: str
    check: str = Field(description="a registered check name, e.g. dns.spf")
    layer: str = Field("", description="the layer of the mail stack, shown as a branch in the walk")
    args: dict[str, str] = Field(default_factory=dict, description="arguments; may use {input} placeholders")
    timeout: float | None = Field(None, gt=0, description="seconds; the check's own default when unset")
    next: dict[str, NodeId] = Field(description="the next node for each outcome the check can return")


class QuestionOption(Strict):
    value: str
    label: str


class QuestionNode(Strict):
    kind: Literal["question"]
    title: str
    key: InputName = Field(description="the input that stores the answer; --set KEY=... answers it ahead")
    prompt: str
    layer: str = ""
    options: list[QuestionOption] = Field(min_length=1)
    default: str | None = Field(
        None, description="an answer from earlier facts, e.g. '{triage.pathway}', used when it is an option"
    )
    next: dict[str, NodeId] = Field(description="the next node for each option value")


class RemedyNode(Strict):
    kind: Literal["remedy"]
    title: str
    code: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    severity: Literal["error", "warning", "info"] = "error"
    rank: int = Field(50, description="lower = more likely the root cause when several findings are made")
    layer: str = ""
    summary: str = Field(description="one line; may use placeholders")
    remedy: str = Field(description="Markdown: the fix, written with the user's values via placeholders")
    continue_: NodeId | None = Field(
        None, alias="continue", description="go on to this node so that later layers are still checked"
    )


class EndNode(Strict):
    kind: Literal["end"]
    title: str = "End"
    incomplete: bool = Field(False, description="the walk could not finish (exit status 3)")
    reason: str = ""


Node = Annotated[CheckNode | QuestionNode | RemedyNode | EndNode, Field(discriminator="kind")]


class Flow(Strict):
    """A troubleshooting decision tree."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="maildoctor flow")

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: str
    description: str
    inputs: dict[InputName, InputSpec] = Field(default_factory=dict)
    start: NodeId
    nodes: dict[NodeId, Node]

    def routes(self, node_id: str) -> dict[str, str]:
        """Every edge out of a node, labelled (outcome, option value or 'continue')."""
        node = self.nodes[node_id]
        if isinstance(node, CheckNode | QuestionNode):
            return dict(node.next)
        if isinstance(node, RemedyNode) and node.continue_:
            return {"continue": node.continue_}
        return {}
