"""The event feed: CloudEvents published to a message exchange through the outbox."""

from gateway.feed.events import CLOSURE_CANDIDATE, EVENT_TYPES, RESULT_COMPUTED, CloudEvent, event
from gateway.feed.publisher import FeedPublisher

__all__ = ["CLOSURE_CANDIDATE", "EVENT_TYPES", "RESULT_COMPUTED", "CloudEvent", "FeedPublisher", "event"]
