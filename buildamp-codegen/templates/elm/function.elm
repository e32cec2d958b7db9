{{ name }} : {{ signature }}
{{ name }}{% for a in args %} {{ a }}{% endfor %} =
{% for line in body %}{% if line.is_empty() %}
{% else %}    {{ line }}
{% endif %}{% endfor %}
