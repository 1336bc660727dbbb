"""Draw panels headless. Background Blender has no window, so no real UILayout can be made: this layout
records what a panel draws and checks each call against Blender's own RNA (the property exists on the
data, the operator and its properties are registered, the icon is a real icon, the UIList exists) —
the errors a real draw would raise. UIList rows are drawn through the list's own draw_item.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def _icons() -> set[str]:
    import bpy

    return {item.identifier for item in bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items}


class _OperatorProps:
    def __init__(self, rna: Any) -> None:
        object.__setattr__(self, "_names", {p.identifier for p in rna.properties})

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._names:
            raise AttributeError(f"operator has no property {name!r}")


class CheckingLayout:
    def __init__(self, lines: list[str] | None = None, icons: set[str] | None = None) -> None:
        self.lines = [] if lines is None else lines
        self.icons = _icons() if icons is None else icons

    def _icon(self, icon: str) -> str:
        if icon not in self.icons:
            raise ValueError(f"unknown icon {icon!r}")
        return f" [{icon}]" if icon != "NONE" else ""

    def _child(self) -> "CheckingLayout":
        return CheckingLayout(self.lines, self.icons)

    def column(self, align: bool = False, heading: str = "") -> "CheckingLayout":
        return self._child()

    def row(self, align: bool = False, heading: str = "") -> "CheckingLayout":
        return self._child()

    def box(self) -> "CheckingLayout":
        return self._child()

    def label(self, text: str = "", icon: str = "NONE") -> None:
        self.lines.append(f"label: {text}{self._icon(icon)}")

    def prop(self, data: Any, name: str, text: str | None = None, icon: str = "NONE", expand: bool = False, **_: Any) -> None:
        if name not in data.bl_rna.properties:
            raise AttributeError(f"{type(data).__name__} has no property {name!r}")
        shown = getattr(data, name)
        title = text if text is not None else data.bl_rna.properties[name].name
        self.lines.append(f"prop: {title} = {shown!r}{self._icon(icon)}")

    def operator(self, idname: str, text: str | None = None, icon: str = "NONE", **_: Any) -> _OperatorProps:
        import bpy

        module, name = idname.split(".")
        rna = getattr(getattr(bpy.ops, module), name).get_rna_type()  # raises for an unknown operator
        self.lines.append(f"button: {text if text is not None else rna.name}{self._icon(icon)}")
        return _OperatorProps(rna)

    def prop_search(self, data: Any, name: str, search_data: Any, search_name: str, text: str | None = None, **kw: Any) -> None:
        if search_name not in search_data.bl_rna.properties:
            raise AttributeError(f"{type(search_data).__name__} has no collection {search_name!r}")
        self.prop(data, name, text=text, **kw)

    def operator_menu_enum(self, idname: str, name: str, text: str | None = None, icon: str = "NONE", **_: Any) -> None:
        import bpy

        module, op = idname.split(".")
        rna = getattr(getattr(bpy.ops, module), op).get_rna_type()
        if name not in rna.properties:
            raise AttributeError(f"{idname} has no property {name!r}")
        self.lines.append(f"menu: {text if text is not None else rna.properties[name].name}{self._icon(icon)}")

    def progress(self, factor: float = 0.0, type: str = "BAR", text: str = "") -> None:
        if not 0.0 <= factor <= 1.0:
            raise ValueError(f"progress factor {factor}")
        self.lines.append(f"progress: {text} ({factor:.0%})")

    def template_icon(self, icon_value: int = 0, scale: float = 1.0) -> None:
        self.lines.append(f"image: icon {icon_value}")

    def template_list(self, listtype_name: str, list_id: str, dataptr: Any, propname: str, active_dataptr: Any,
                      active_propname: str, rows: int = 5, **_: Any) -> None:
        import bpy

        list_type = getattr(bpy.types, listtype_name)
        for owner, name in ((dataptr, propname), (active_dataptr, active_propname)):
            if name not in owner.bl_rna.properties:
                raise AttributeError(f"{type(owner).__name__} has no property {name!r}")
        self.lines.append(f"list: {len(getattr(dataptr, propname))} rows")
        ui_list = SimpleNamespace()
        for i, item in enumerate(getattr(dataptr, propname)):
            row = CheckingLayout([], self.icons)
            list_type.draw_item(ui_list, bpy.context, row, dataptr, item, 0, active_dataptr, active_propname, i)
            self.lines.append("  row: " + " | ".join(line.split(": ", 1)[1] for line in row.lines))


def draw_panel(panel: type, context: Any) -> list[str]:
    """Everything `panel` draws in `context`, one line per widget."""
    layout = CheckingLayout()
    if hasattr(panel, "poll") and not panel.poll(context):
        return ["(hidden)"]
    panel.draw(SimpleNamespace(layout=layout), context)
    return layout.lines
