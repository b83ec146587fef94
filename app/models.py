"""Imports every feature's models so the metadata (and Alembic) sees them all."""
from app.auth.models import ApiToken, LoginSession, User  # noqa: F401
from app.orgs.models import Org  # noqa: F401
from app.points.models import Claim, LedgerEntry, Rule  # noqa: F401
from app.contests.models import Contest, ContestOutcome, ContestSnapshot, ContestStanding  # noqa: F401
from app.assessments.models import Assessment, AssessmentUnit  # noqa: F401
from app.qr.models import FollowUp, QrFlag, QrTarget, Rating, ServicePost  # noqa: F401
from app.jobs_lock import JobLock, JobRun  # noqa: F401
from app.marks import ChangeMark  # noqa: F401  (also installs the events that move the marks)
from app.points.totals import LedgerCheckpoint, MemberYearPoints  # noqa: F401
from app.targets.models import YearTarget  # noqa: F401
