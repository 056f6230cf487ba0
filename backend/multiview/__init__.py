"""Several photos of one object: their poses, their re-framing and the automatic pose search.

Photo 0 is the reference: it fixes the view frame (ARCHITECTURE.md sections 4 and 5). Every other
photo is placed by an azimuth and an elevation relative to it (given, or found by
``pose_search``) and re-framed (``reframe``) so that the predictor can read it in that frame.
"""
