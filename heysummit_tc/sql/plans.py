"""What keeps PostgreSQL on the plans the list pages need: numbers written into a
statement's text, and an event's filter written as a range."""

from sqlalchemy import Integer, bindparam


def written_limit(value=None, *, name="limit"):
    """A LIMIT or OFFSET written into the statement's text, not sent as a parameter.

    PostgreSQL plans a prepared statement whose LIMIT is a parameter anew on every
    execution: the generic plan cannot know how many rows are wanted, so a custom plan
    always looks cheaper (0.3 ms of planning for each of the delivery log's statements).
    Written into the text, the number lets PostgreSQL keep one plan. ``value`` fixes it;
    without one it is given at execution under ``name``, and each number it takes makes a
    statement of its own (a page size, not something a visitor chooses).
    """
    return bindparam(None if value is not None else name, value, type_=Integer,
                     literal_execute=True)


def of_event(column, event_id):
    """``column = event_id`` as a list page's filter, written as a range.

    A list ordered ``(event_id DESC, id DESC)`` is served by its ``(event_id, id)`` index. With
    ``event_id = :id``, PostgreSQL knows the first sort key is a constant, drops it, and may walk
    the primary key backwards instead, filtering for the event: cheap when the event's rows
    hold the newest ids, a read of every other event's newer rows when they do not. A range
    (``BETWEEN :id AND :id``, the same rows) is not a constant to the planner, so only the
    ``(event_id, id)`` index gives the order, whatever the ids of other events.
    """
    return column.between(event_id, event_id)
