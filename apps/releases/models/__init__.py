"""Release planning (issue #15)."""

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
from .templates import PipelineTemplate, PipelineTemplateVersion, TemplateAdoption, TemplateEnforcement, TemplateVersionStatus  # noqa: F401,E501,I001
