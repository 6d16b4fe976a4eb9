"""The password policy: length, the common-password list and zxcvbn's strength estimate."""

import pytest

from models import User, db
from services.passwords import password_problem
from tests.conftest import DEFAULT_PASSWORD


@pytest.mark.parametrize(
    "weak, why",
    [
        ("1234567890", "most common passwords"),
        ("qwertyuiop", "most common passwords"),
        ("passwordpassword", "too easy to guess"),
        ("iloveyou12", "most common passwords"),
        ("abcdefghijkl", "too easy to guess"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("short", "at least 10"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(app, weak, why):
    assert why in (password_problem(weak) or "")


@pytest.mark.parametrize("password", ["jane.doe@example.com", "Zyxwerty Quolander"])
def test_a_password_made_of_ones_own_email_or_name_is_refused(app, password):
    assert password_problem(password) is None, "strong for a stranger..."
    assert "too easy to guess" in password_problem(password, ("jane.doe@example.com", "Zyxwerty Quolander"))


@pytest.mark.parametrize("strong", ["correct-horse-battery", "plum tractor lantern", "vq7#Lr9!pT2w"])
def test_strong_passwords_pass(app, strong):
    assert password_problem(strong) is None


def test_changing_to_1234567890_is_refused_on_the_form(client, auth):
    user = auth.login("agent")
    response = client.post(
        "/account/password", data={"current_password": DEFAULT_PASSWORD, "new_password": "1234567890"}
    )
    assert response.status_code == 400
    assert "most common passwords" in response.get_data(as_text=True)
    db.session.expire_all()
    assert client.get("/tickets/").status_code == 200, "the session stays; nothing changed"
    from services.users import authenticate

    assert authenticate(user.email, DEFAULT_PASSWORD) is not None


def test_an_admin_cannot_give_a_new_user_a_common_password(client, auth):
    auth.login("admin")
    response = client.post(
        "/admin/users/new",
        data={"email": "new.person@example.com", "name": "New Person", "role": "agent", "password": "1234567890"},
    )
    assert response.status_code == 400
    assert "most common passwords" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(User).where(User.email == "new.person@example.com")) is None
