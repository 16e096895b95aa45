"""python manage.py demo_plans: last month's and this month's marketing plan for every store (after load_demo)."""
from django.core.management.base import BaseCommand

from plans.demo import demo_plans_create


class Command(BaseCommand):
    help = "Write demo marketing plans (last month approved, this month a draft) for stores that have none."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"wrote {demo_plans_create()} marketing plans")
