"""schema.org JSON-LD for public pages: built from the same records the page shows."""

from mesoinfo.markdown import plain_text

CONTEXT = "https://schema.org"


def scholarly_article(reference):
    data = {"@type": "ScholarlyArticle", "headline": reference.title}
    if reference.authors:
        data["author"] = reference.authors
    if reference.year:
        data["datePublished"] = str(reference.year)
    if reference.source:
        data["isPartOf"] = {"@type": "Periodical", "name": reference.source}
    same_as = [url for url in (reference.doi_url, reference.pubmed_url, reference.link_url) if url]
    if same_as:
        data["sameAs"] = same_as
    return data


def _reviewed(data, obj):
    if obj.reviewed_on and obj.reviewed_by_id:
        data["lastReviewed"] = obj.reviewed_on.isoformat()
        data["reviewedBy"] = {"@type": "Person", "name": obj.reviewer_display}


def medical_web_page(overview, url, citations, last_updated):
    data = {
        "@context": CONTEXT,
        "@type": "MedicalWebPage",
        "name": overview.title,
        "description": overview.summary,
        "url": url,
        "about": {"@type": "MedicalCondition", "name": overview.title},
        "medicalAudience": {"@type": "MedicalAudience", "audienceType": "Patient"},
        "inLanguage": "en",
    }
    _reviewed(data, overview)
    if last_updated:
        data["dateModified"] = last_updated.date().isoformat()
    if citations:
        data["citation"] = [scholarly_article(reference) for _, reference in citations]
    return data


def drug(drug, url):
    data = {
        "@context": CONTEXT,
        "@type": "Drug",
        "name": drug.generic_name,
        "nonProprietaryName": drug.generic_name,
        "url": url,
    }
    brands = [name.removesuffix("®") for name in drug.brand_names_display]
    if brands:
        data["proprietaryName"] = brands[0] if len(brands) == 1 else brands
    if drug.drug_class:
        data["drugClass"] = {"@type": "DrugClass", "name": drug.drug_class}
    description = plain_text(drug.how_it_works)
    if description:
        data["description"] = description
    return data


def medical_trial(trial, url, citations):
    data = {"@context": CONTEXT, "@type": "MedicalTrial", "name": trial.title, "url": url}
    if trial.nct_id:
        data["identifier"] = {
            "@type": "PropertyValue",
            "propertyID": "ClinicalTrials.gov",
            "value": trial.nct_id,
            "url": trial.registry_url,
        }
    if trial.phase:
        data["phase"] = trial.get_phase_display()
    description = plain_text(trial.summary)
    if description:
        data["description"] = description
    if trial.trial_status:
        data["status"] = trial.get_trial_status_display()
    drugs = [item.drug for item in trial.regimen.regimen_drugs.all()] if trial.regimen_id else []
    drugs += list(trial.drugs.all())
    if drugs:
        data["drug"] = [{"@type": "Drug", "name": item.generic_name} for item in drugs]
    if citations:
        data["citation"] = [scholarly_article(reference) for _, reference in citations]
    return data


def website(home_url, search_url):
    return {
        "@context": CONTEXT,
        "@type": "WebSite",
        "name": "MesoInfo",
        "url": home_url,
        "potentialAction": {
            "@type": "SearchAction",
            "target": f"{search_url}?q={{search_term_string}}",
            "query-input": "required name=search_term_string",
        },
    }


def collection_page(name, url):
    return {"@context": CONTEXT, "@type": "CollectionPage", "name": name, "url": url}


def defined_term_set(entries, url):
    return {
        "@context": CONTEXT,
        "@type": "DefinedTermSet",
        "name": "MesoInfo glossary",
        "url": url,
        "hasDefinedTerm": [
            {
                "@type": "DefinedTerm",
                "name": term.term,
                "description": plain_text(term.definition),
                "url": f"{url}#{term.slug}",
            }
            for term, _definition in entries
        ],
    }
