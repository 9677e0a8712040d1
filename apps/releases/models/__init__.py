"""Release planning (issue #15)."""

from .decisions import ReleaseCabReview, StrategyDecision  # noqa: F401
from .retros import RetroAction, Retrospective, UserIssue  # noqa: F401
from .templates import (  # noqa: F401
    PipelineTemplate,
    PipelineTemplateVersion,
    TemplateAdoption,
    TemplateEnforcement,
    TemplateVersionStatus,
)
from .trains import (  # noqa: F401
    Cadence,
    CheckpointWaiver,
    ComplianceCheckpoint,
    ComplianceScope,
    OffCadenceJustification,
    Release,
    ReleaseChange,
    ReleaseService,
    ReleaseState,
    ReleaseTrain,
    ScopeException,
    ScopeSignoff,
    ServiceDependency,
    SignoffRole,
    TrainReason,
    TrainService,
)
