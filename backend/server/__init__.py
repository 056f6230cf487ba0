"""The local job server the Blender extension talks to (FastAPI on uvicorn)."""
