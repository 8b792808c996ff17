"""The schema comes only from migrations, and the models never drift from them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from heysummit_tc.extensions import db
from heysummit_tc.models import Base


def test_models_match_the_migrated_schema(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_flask_db_check_finds_nothing_to_generate(runner):
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
