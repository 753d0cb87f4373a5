"""educompte.pupils.recovery: helpers of the recovery address."""

from __future__ import annotations

import pytest

from educompte.pupils import recovery

pytestmark = pytest.mark.usefixtures("locmem_mail")


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("neuve.adresse@pirate.example", "n***@p***.example"),
        ("a@b.fr", "a***@b***.fr"),
        ("zoe@ac-grenoble.fr", "z***@a***.fr"),
    ],
)
def test_mask_email(address, masked):
    assert recovery.mask_email(address) == masked
