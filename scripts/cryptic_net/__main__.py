from __future__ import annotations

from cryptic_net.cli import main

raise SystemExit(main())
