"""Scenario: enable, start the backend, draw every panel, disable; report what is left behind."""

import os

import bpy
from _support import ADDON, EXAMPLE, disable, done, enable, pid_alive, run


class Layout:
    """A stand-in UILayout that checks what a panel asks for: properties and operators exist."""

    errors: list[str] = []

    def __init__(self) -> None:
        self.use_property_split = self.use_property_decorate = self.enabled = False
        self.scale_y = 1.0

    def _child(self, *args, **kwargs):
        return Layout()

    row = column = box = split = _child

    def prop(self, data, name, **kwargs):
        if name not in data.bl_rna.properties:
            self.errors.append(f"no property {name} on {data}")

    def operator(self, idname, **kwargs):
        group, name = idname.split(".")
        if not hasattr(getattr(bpy.ops, group), name):
            self.errors.append(f"no operator {idname}")

    def template_ID(self, data, name, **kwargs):
        self.prop(data, name)
        if kwargs.get("open"):
            self.operator(kwargs["open"])

    def template_list(self, list_type, list_id, data, name, active_data, active_name, **kwargs):
        if not hasattr(bpy.types, list_type):
            self.errors.append(f"no UI list {list_type}")
        self.prop(data, name)
        self.prop(active_data, active_name)

    def label(self, **kwargs):
        pass

    def separator(self, **kwargs):
        pass

    def progress(self, **kwargs):
        pass

    def template_icon(self, **kwargs):
        pass


class Space:
    def __init__(self, kind: str, image=None) -> None:
        self.type, self.image = kind, image


class Context:
    """Enough of bpy.context for the panels' draw()."""

    def __init__(self, space) -> None:
        self.scene, self.space_data = bpy.context.scene, space
        self.preferences = bpy.context.preferences


def draw_all(ext, image) -> list[str]:
    from types import SimpleNamespace

    Layout.errors = []
    for cls in (c for c in ext.ui.sidebar.CLASSES if issubclass(c, bpy.types.Panel)):
        space = Space(cls.bl_space_type, image)
        for method in ("draw_header", "draw"):
            if hasattr(cls, method):
                getattr(cls, method)(SimpleNamespace(layout=Layout()), Context(space))
    prefs = bpy.context.preferences.addons[ADDON].preferences
    for mode in ("LOCAL", "INSTALLED", "REMOTE"):
        prefs.backend_mode = mode
        names = [p.identifier for p in prefs.bl_rna.properties if p.identifier != "rna_type"]
        view = SimpleNamespace(layout=Layout(), bl_rna=prefs.bl_rna,
                               **{k: getattr(prefs, k) for k in names})
        view._draw_install = lambda box, view=view: type(prefs)._draw_install(view, box)
        view._draw_models = lambda box, view=view: type(prefs)._draw_models(view, box)
        type(prefs).draw(view, bpy.context)
        # The background-removal model missing where the backend reads it: its box and button.
        status = ext.ui.state.MANAGER.status
        saved = (status.models_dir, status.background_removal_ready)
        status.models_dir, status.background_removal_ready = "/nowhere/u2net", False
        type(prefs).draw(view, bpy.context)
        for cls in ext.ui.sidebar.CLASSES:
            if getattr(cls, "bl_label", "") == "Backend":
                cls.draw(SimpleNamespace(layout=Layout()), Context(Space(cls.bl_space_type)))
        status.models_dir, status.background_removal_ready = saved
    prefs.backend_mode = "LOCAL"
    return list(Layout.errors)


def main() -> None:
    handlers_before = {name: len(getattr(bpy.app.handlers, name)) for name in dir(bpy.app.handlers)
                       if not name.startswith("_") and isinstance(getattr(bpy.app.handlers, name),
                                                                 list)}
    menu_before = len(bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize())
    ext = enable()
    user_dir = ext.ui.paths.user_dir()
    classes = [c.__name__ for c in ext._CLASSES]
    registered = [c.__name__ for c in ext._CLASSES if c.is_registered]
    image = bpy.data.images.load(EXAMPLE)
    bpy.context.scene.slice3d.image = image
    draw_errors = draw_all(ext, image)
    start = sorted(bpy.ops.slice3d.backend_start())
    manager = ext.ui.state.MANAGER
    pid, status = manager.pid, manager.status.state
    restart = sorted(bpy.ops.slice3d.backend_restart())
    pid2 = manager.pid
    draw_errors += draw_all(ext, image)  # once more with a running backend
    timer = ext.ui.backend_watch.tick
    bpy.app.timers.register(timer, first_interval=60)  # as a UI start would leave it
    # The watch notices a backend that died while idle (run by hand: no timers run headless).
    os.kill(pid2, 9)
    manager.proc.wait()
    watch_next = timer()
    crash_status = [manager.status.state, manager.status.message]
    menu_during = len(bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize())
    disable()
    handlers_after = {name: len(getattr(bpy.app.handlers, name)) for name in handlers_before}
    done(classes=classes, registered=registered, user_dir=user_dir, draw_errors=draw_errors,
         start=start, status=status, pids=[pid, pid2], restart=restart,
         left_classes=[c.__name__ for c in ext._CLASSES if c.is_registered],
         scene_prop=hasattr(bpy.types.Scene, "slice3d"),
         handlers=handlers_before == handlers_after,
         timer=bpy.app.timers.is_registered(timer), watch_next=watch_next,
         crash_status=crash_status,
         menu=[menu_before, menu_during,
               len(bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize())],
         alive=[pid_alive(pid), pid_alive(pid2)],
         profile=os.environ["BLENDER_USER_RESOURCES"])


run(main)
