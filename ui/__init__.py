"""The Blender UI: sidebar panels, add-on preferences, the scene's settings, the session state.

``paths`` and ``settings`` say where the add-on lives and how to reach the backend; ``state`` owns
the session's backend manager, current job and installer; ``props`` is the sidebar's
PropertyGroup; ``sidebar`` and ``preferences`` draw; ``redraw`` and ``backend_watch`` keep the
panels current.
"""
