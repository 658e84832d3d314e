"""Wait on AWS HealthOmics jobs from asyncio services."""
