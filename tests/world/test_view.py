"""The world's view: what encoders may see, without the hidden fields, sharing the world's arrays."""

import dataclasses

import numpy as np

from adsim.world.render import item_images, query_photos
from adsim.world.view import HIDDEN, WorldView


def _names(obj) -> set[str]:
    out = set()
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out.add(f.name)
        if dataclasses.is_dataclass(value):
            out |= _names(value)
    return out


def test_the_view_has_no_hidden_fields_and_copies_nothing(smoke_world):
    view = smoke_world.view
    assert isinstance(view, WorldView) and view is smoke_world.view
    names = _names(view)
    assert not names & set(HIDDEN), names & set(HIDDEN)
    assert not any(n.startswith("intent") or n == "target" for n in names)
    assert view.items.title is smoke_world.items.title and view.history.shown is smoke_world.history.shown
    assert view.n_users == len(smoke_world.users.user_id) and view.image_size == smoke_world.image_size


def test_the_camera_renders_the_worlds_pixels(smoke_world):
    w, cam = smoke_world, smoke_world.view.camera
    ids = np.arange(20)
    assert np.array_equal(cam.item_images(ids, 1), item_images(w.items, ids, 1, w.image_size, w.seed))
    photos, has = cam.request_photos(np.arange(50))
    image = w.requests.modality[:50] != 0
    assert np.array_equal(has, image) and (photos[~has] == 0).all()
    want = query_photos(w.items, w.requests.intent.target[:50][image], np.arange(50)[image], w.image_size, w.seed)
    assert np.array_equal(photos[has], want)


def test_the_camera_keeps_rendered_pixels_only_where_a_table_fits(smoke_world, monkeypatch):
    """Pixels rendered once are handed out again, identical to a fresh render whatever the order of
    the ids asked; a table larger than the memo's budget is rendered every time, never kept."""
    from adsim.world import photos
    from adsim.world.view import view_of
    cam = view_of(smoke_world).camera
    ids = np.arange(0, 1500, 3)
    first = cam.item_images(ids[::-1])[::-1]
    again = cam.item_images(ids)
    fresh = item_images(smoke_world.items, ids, 0, cam.image_size, smoke_world.seed)
    assert np.array_equal(first, fresh) and np.array_equal(again, fresh)
    rid = np.arange(0, 1500, 7)
    kept, has = cam.request_photos(rid)
    monkeypatch.setattr(photos, "MEMO_BYTES", 1024)
    small = view_of(smoke_world).camera
    rendered, has2 = small.request_photos(rid[::-1])
    assert np.array_equal(kept, rendered[::-1]) and np.array_equal(has, has2[::-1])
    assert small._memos == {"request": None}
