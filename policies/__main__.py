"""TradeSense policy pack entry point: builds the PolicyPack and nothing else.

`PolicyPack(...)` starts the analyzer's gRPC server and blocks, so nothing may import this file;
the rules live in `tradesense_rules` (importable and testable on their own).

    pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json
"""

import os
import sys

# The engine runs this file with the pack directory as cwd and sys.path[0] (runpy on the
# directory); make the rules importable however the file is started.
_PACK_DIR = os.path.dirname(os.path.abspath(__file__))
if _PACK_DIR not in sys.path:
    sys.path.insert(0, _PACK_DIR)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from tradesense_rules import ALL_POLICIES  # noqa: E402

PolicyPack(
    name="tradesense-policies",
    policies=ALL_POLICIES,
    # Every rule sets its own level; this only covers a rule that forgets to.
    enforcement_level=EnforcementLevel.ADVISORY,
    description="TradeSense security and reliability rules.",
)
