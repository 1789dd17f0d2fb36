"""The walk as a tree: one line per step with a status icon and its time; layers as branches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from maildoctor.engine import Step
from maildoctor.tui import display


@dataclass
class StepItem:
    """A step of the walk as the tree shows it: running until ``step`` is set."""

    index: int
    node: str
    title: str
    layer: str
    kind: str
    started: float
    step: Step | None = None
    waiting: bool = False  # a question waits for the operator
    progress: str = ""  # how far the running check has got ("12 of 33 regions read")

    @property
    def status(self) -> str | None:
        return self.step.status if self.step else None

    def elapsed_ms(self) -> int:
        if self.step is not None:
            return self.step.duration_ms
        return int((time.monotonic() - self.started) * 1000)


@dataclass
class LayerItem:
    name: str
    items: list[StepItem] = field(default_factory=list)


TreeData = StepItem | LayerItem


def shorten(title: str, room: int) -> str:
    """``title`` in ``room`` cells, cut at a space with an ellipsis (never inside a word); in full in
    the detail pane."""
    if len(title) <= room or room <= 3:
        return title
    cut = title[: room - 1]
    if title[room - 1] != " ":  # the cut is inside a word: back to the space before it
        space = cut.rfind(" ")
        cut = cut[:space] if space > 0 else cut
    return cut.rstrip(" ,;:·—-(") + "…"


class StepTree(Tree[TreeData]):
    """Follows the newest step only while the cursor is on the newest step, so that a step being
    read stays put while a slow check runs on."""

    def __init__(self, *, show_timings: bool = True, id: str | None = None) -> None:
        super().__init__("walk", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.show_timings = show_timings
        self.frame = 0
        self.items: list[StepItem] = []
        self._step_nodes: list[TreeNode[TreeData]] = []
        self._branches: list[TreeNode[TreeData]] = []

    # -- the walk's events

    @property
    def newest(self) -> TreeNode[TreeData] | None:
        return self._step_nodes[-1] if self._step_nodes else None

    @property
    def following(self) -> bool:
        return self.cursor_node is None or self.cursor_node is self.newest

    def start_step(self, item: StepItem) -> TreeNode[TreeData]:
        follow = self.following
        parent = self.root
        if item.layer:
            branch = self._branches[-1] if self._branches else None
            last_layer = self.items[-1].layer if self.items else None
            if branch is None or last_layer != item.layer or branch.parent is None:
                branch = self.root.add(item.layer, data=LayerItem(item.layer), expand=True)
                self._branches.append(branch)
            assert isinstance(branch.data, LayerItem)
            branch.data.items.append(item)
            parent = branch
        node = parent.add_leaf(item.title, data=item)
        self.items.append(item)
        self._step_nodes.append(node)
        if follow:
            self.select_step(node)
        return node

    def finish_step(self, step: Step) -> StepItem | None:
        if step.index >= len(self.items):
            return None
        item = self.items[step.index]
        item.step = step
        item.title, item.layer = step.title, step.layer or item.layer
        item.waiting = False
        self.refresh_item(item)
        return item

    def truncate(self, index: int) -> None:
        """Drop the steps from ``index`` on (a re-run replaces them); the cursor goes to the newest."""
        for node in reversed(self._step_nodes[index:]):
            parent = node.parent
            node.remove()
            if parent is not None and parent is not self.root and isinstance(parent.data, LayerItem):
                parent.data.items = [i for i in parent.data.items if i is not node.data]
                if not parent.data.items:
                    parent.remove()
                    self._branches.remove(parent)
        del self._step_nodes[index:]
        del self.items[index:]
        self.move_cursor(None)
        if self.newest is not None:
            self.select_step(self.newest)

    def select_step(self, node: TreeNode[TreeData]) -> None:
        _ = self.last_line  # lay the lines out, so that the node knows its line
        self.move_cursor(node)

    def refresh_item(self, item: StepItem) -> None:
        if item.index < len(self._step_nodes):
            self._step_nodes[item.index].refresh()

    def tick(self) -> None:
        """Turn the spinner of running steps (and their elapsed time)."""
        self.frame += 1
        for item in self.items[-1:]:
            if item.step is None:
                self.refresh_item(item)

    # -- drawing

    def _colour(self, status: str | None) -> Style:
        variables = self.app.theme_variables
        name = {"pass": "success", "warn": "warning", "fail": "error", "info": "primary"}.get(status or "")
        if status == "error":
            return Style(color="magenta", bold=True)
        if status == "skipped":
            return Style(dim=True)
        if status is None:
            return Style(color=variables.get("accent"), bold=True)
        return Style(color=variables.get(name or "", None), bold=True)

    def render_label(self, node: TreeNode[TreeData], base_style: Style, style: Style) -> Text:
        data = node.data
        if not isinstance(data, StepItem):
            return super().render_label(node, base_style, style)
        sign = display.WAITING if data.waiting else display.icon(data.status, self.frame)
        timing = ""
        if self.show_timings and not data.waiting and data.kind == "check":
            timing = f"  {display.duration(data.elapsed_ms())}"
        room = self._room(node) - len(sign) - 1
        if timing and len(data.title) + len(timing) > room:
            timing = ""  # a narrow tree keeps the title (the time is in the detail pane)
        room -= len(timing)
        title = Text(shorten(data.title, room))  # steps come from the session already redacted
        if timing and room < 200:
            title.pad_right(room - title.cell_len)  # the times in a column on the right
        label = Text.assemble((sign, self._colour(None if data.waiting else data.status)), " ", title)
        if data.step is not None and data.status == "skipped":
            label.stylize(Style(dim=True))
        if timing:
            label.append(timing, style=Style(dim=True))
        label.stylize(style)
        return label

    def _room(self, node: TreeNode[TreeData]) -> int:
        width = self.scrollable_content_region.width
        if width <= 0:
            return 1000
        depth = -1  # the (hidden) root's children have no guide
        parent = node.parent
        while parent is not None:
            depth += 1
            parent = parent.parent
        return width - depth * self.guide_depth - 1
