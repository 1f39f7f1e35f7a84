from renovation_common.devstack.cli import main

raise SystemExit(main())
