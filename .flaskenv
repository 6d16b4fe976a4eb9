# Read by the flask command (python-dotenv) in this checkout only; the environment wins.
FLASK_APP=app
APP_ENV=development
