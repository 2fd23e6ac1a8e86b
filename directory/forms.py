from django import forms
from django.utils.translation import gettext_lazy as _

from directory.fields import SiretField


class LookupForm(forms.Form):
    siret = SiretField()
    # id of the surrounding page's form that the chosen buyer/service belong to (see the partial)
    target = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "buyer-lookup-%s")
        super().__init__(*args, **kwargs)


class BuyerCreateForm(forms.Form):
    siret = SiretField(widget=forms.HiddenInput)
    account = forms.ModelChoiceField(queryset=None, label=_("Compte"), empty_label=None)
    services = forms.MultipleChoiceField(
        label=_("Services destinataires"), required=False, widget=forms.CheckboxSelectMultiple
    )
    target = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, accounts, service_choices=(), **kwargs):
        kwargs.setdefault("auto_id", "buyer-create-%s")
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
        self.fields["services"].choices = list(service_choices)


class ServiceAddForm(forms.Form):
    code = forms.ChoiceField(label=_("Service à ajouter"))
    target = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, service_choices=(), **kwargs):
        kwargs.setdefault("auto_id", "service-add-%s")
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = list(service_choices)
