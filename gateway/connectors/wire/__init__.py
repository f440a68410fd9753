"""Wire models: the shapes each upstream sends and receives (docs/contracts/). Shared by connectors and mocks."""
